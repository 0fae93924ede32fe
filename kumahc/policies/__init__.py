"""Policy families and what they share.

``core/`` is the engine every family uses (target refs and their checker, selection and entry indexes, merge,
preview synthesis, the legacy connection-policy selection); ``<kind>/`` is one family (API types, validation,
translation, the facade the pipeline calls); ``contract.py`` says what a family offers the pipeline and the views,
``combine.py`` the precedence between kinds, ``registry.py`` the list of families. A family imports the engine,
never another family.
"""
