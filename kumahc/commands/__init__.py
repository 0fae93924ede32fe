"""The verbs of ``kumahc`` (spec 07), one module each; :mod:`kumahc.cli` assembles them into the ``kumahc`` group.

Shared parts: :mod:`.options` (options and arguments several verbs take, reading PATHs or the store, running the
pipeline), :mod:`.output` (stderr lines, one-line failures, the "found N errors" failure printer, writing the
document) and :mod:`.guard` (the one error guard every command runs under)."""
