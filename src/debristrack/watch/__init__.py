"""Live mode (``debristrack watch``): frames tracked as a camera writes them.

- :mod:`.folder`: which files of a folder are complete, in time order;
- :mod:`.journal`: the append-only tracks file and the journal that makes restarts exact;
- :mod:`.live`: :func:`watch`, the driver of one frame-loop method over a live folder.
"""

from .folder import FolderWatcher
from .journal import WatchOutput, read_journal
from .live import WatchResult, watch

__all__ = ["FolderWatcher", "WatchOutput", "WatchResult", "read_journal", "watch"]
