"""Print a current TorchServe key from key_file.json, renewing it first if it has expired.

    python -m tools.keys inference      # for /predictions
    python -m tools.keys management     # for /models, /token
    python -m tools.keys inference --renew

TORCHSERVE_KEY_FILE and TORCHSERVE_CONFIG point it at another server's files.
"""

import argparse
import os
import sys
from pathlib import Path

import requests

from harness.torchserve import KeyFile, ServerError, read_properties

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["inference", "management", "API"], nargs="?",
                        default="inference", help="which key (default inference)")
    parser.add_argument("--key-file", default=os.environ.get("TORCHSERVE_KEY_FILE",
                                                              ROOT / "key_file.json"),
                        help="TorchServe's key file (default: key_file.json in the repository)")
    parser.add_argument("--config", default=os.environ.get("TORCHSERVE_CONFIG",
                                                            ROOT / "config.properties"),
                        help="config.properties, for the management address (token API)")
    parser.add_argument("--renew", action="store_true",
                        help="ask TorchServe for a new key now, even if the current one is valid")
    args = parser.parse_args(argv)

    keys = KeyFile(args.key_file)
    management_url = read_properties(args.config).get("management_address",
                                                      "http://127.0.0.1:8081")
    try:
        if args.renew and args.kind != "API":
            print(keys.renew(management_url, args.kind))
        else:
            print(keys.current(args.kind, management_url))
    except (ServerError, requests.RequestException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
