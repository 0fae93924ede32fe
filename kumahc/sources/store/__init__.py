"""The PostgreSQL store: resources written by ``kumahc apply`` (validated as a whole state before every commit),
read by ``render``/``validate``/``inspect`` without any YAML work (each row passes only the compiled structural
check, against rows altered behind kumahc's back).

Modules: :mod:`.connection` (URL, connecting, one-line errors), :mod:`.schema` (versioned migrations kept in
``migrations/``), :mod:`.records` (stored rows ↔ resources and documents), :mod:`.state` (reading a consistent
snapshot, conditional writes), :mod:`.source` (the store as the pipeline's source). Importing this package does
not import the driver.
"""

from kumahc.sources.store.errors import StoreError

__all__ = ["StoreError"]
