"""Smoke test of a running app: /health ready, one prediction through gradio_client, /metrics counted it.

python scripts/smoke_test.py http://127.0.0.1:7860
"""

from __future__ import annotations

import re
import sys
import time
import urllib.request


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def predictions(url: str) -> float:
    text = get(f"{url}/metrics")
    return sum(float(v) for v in re.findall(r"^sentiment_predictions_total\{[^}]*\} (\S+)$", text, re.M))


def main(url: str) -> int:
    from gradio_client import Client

    url = url.rstrip("/")
    for _ in range(90):
        try:
            if '"ready":true' in get(f"{url}/health").replace(" ", ""):
                break
        except OSError:
            pass
        time.sleep(2)
    else:
        print("the app never reported ready", file=sys.stderr)
        return 1
    before = predictions(url)
    label, details = Client(url, verbose=False).predict("I love this!", api_name="/predict")
    after = predictions(url)
    print(f"model {details['model']}: 'I love this!' -> {label['label']}; predictions counter {before} -> {after}")
    return 0 if label["label"] == "positive" and after == before + 1 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860"))
