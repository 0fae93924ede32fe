"""Reading YAML and JSON documents with line marks (spec 01 §1): ``documents.parse`` is the entry point, ``cutting``
bounds what it holds, ``native`` is its fast path, ``loaders``/``builder`` the bounded PyYAML path, ``marks`` the
documents model, ``errors`` what it raises and ``words`` the syntax errors in kumahc's words."""
