"""Sources: where the pipeline's resources come from.

* :mod:`kumahc.sources.files` — PATH arguments (YAML/JSON files and directories), the embedded default;
* :mod:`kumahc.sources.store` — a PostgreSQL store written by ``kumahc apply`` and shared by replicas.

Both hand :func:`kumahc.pipeline.run` the same thing: structurally valid :class:`~kumahc.resources.model.Resource`
values in input order (PATH arguments as a list; any other source as a :data:`kumahc.pipeline.Loader`). A new
source (a Kubernetes API watch, say) is another loader.
"""
