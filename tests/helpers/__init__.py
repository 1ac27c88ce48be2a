"""What several test modules share, imported as a package (``from tests.helpers import ...``) so no
test depends on its folder being on sys.path."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
