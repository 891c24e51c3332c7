"""``python -m simulator``: run the Millennium simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import ssl
import sys
import threading
from pathlib import Path

from simulator.runner import start_simulator


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Millennium simulator (MLLP + HTTP)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--mllp-port", type=int, default=2575, help="MLLP port (default 2575)")
    parser.add_argument("--http-port", type=int, default=8090, help="HTTP port (default 8090)")
    parser.add_argument("--seed", type=int, default=None, help="seed for fault injection")
    parser.add_argument(
        "--no-enforce-order",
        action="store_true",
        help="accept appointments and pending admits without an encounter",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="accept what only a strict interface refuses (the 'lenient' fault setting)",
    )
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve MLLP over TLS")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument(
        "--state-file",
        type=Path,
        help="keep what Millennium holds in this SQLite file across restarts "
        "(default: in memory, forgotten on stop)",
    )
    parser.add_argument(
        "--connection-limit",
        type=int,
        default=None,
        help="close every MLLP connection beyond this many, as an interface engine does",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the ports as one JSON line once listening (port 0 picks a free one)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every message's control id")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    ssl_context = None
    if args.tls_cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
    handle = start_simulator(
        args.host,
        args.mllp_port,
        args.http_port,
        seed=args.seed,
        enforce_order=not args.no_enforce_order,
        ssl_context=ssl_context,
        state_file=args.state_file,
        connection_limit=args.connection_limit,
    )
    handle.faults.lenient = args.lenient
    if args.json:
        print(json.dumps({"mllpPort": handle.mllp_port, "httpUrl": handle.http_url}), flush=True)
    logging.getLogger("simulator").info(
        "Millennium simulator: MLLP%s on %s:%d, HTTP on %s (Ctrl-C stops)",
        " over TLS" if ssl_context else "",
        args.host,
        handle.mllp_port,
        handle.http_url,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
