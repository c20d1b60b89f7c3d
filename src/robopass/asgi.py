"""ASGI entry point for uvicorn workers: ``robopass.asgi:app``.

A worker does no start-up work beyond building the app: it serves at full speed from its first
second, which matters when a supervisor restarts one or one is added under load (issue #12.9).
Workers used to compute the national dashboard aggregates here, in a background thread — a full
scan of every unit, ~25 CPU-seconds per worker at 10,000,000 units, competing with requests for
the GIL and the cores for about a minute after every start. The unit and supply-chain figures
are now read from counts maintained with every write (``stats.counts``, ``stats.supply``); the
remaining costly figures are computed when a regulator signs in (``stats.service.warm``, in
that worker only, and only on a registry large enough to need it) or when first asked for.

What every worker's first requests would otherwise each pay is done here, once, at import
(:func:`robopass.web.fastpath.preload`: ORM mappers, the public page's templates and locale
data, every route's dependency tree and validators; no database connection): ``robopass
serve`` imports this module in its supervising process and forks the workers from it (a
replacement for one that died: from a fork server that imported it too). A worker then
reads the registry's own country when it starts (``api.create_app``'s start-up), so its first
verification takes the fast path too.
"""

from robopass.api import create_app
from robopass.runtime import tune_gc, tune_memory
from robopass.web.fastpath import preload

tune_memory()  # before any thread: the workers forked from here inherit it
app = create_app()
preload(app)  # in the process the workers are forked from: once for all of them
tune_gc()
