"""Registry and agreements reads under load, against the trivial endpoint of the same app.

With the demo world loaded (149 institutions, the 133-member alliance, ~740 staff), 50
concurrent clients on loopback against one app process call: institution search, the alliance
member list, the staff search and the agreements list; and /api/v1/ping as the ceiling. Each
measurement is repeated and the median run reported, on SQLite and (when reachable) PostgreSQL.

    .venv/bin/python bench/bench_registry.py [--clients 50] [--requests 1500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    BENCH_SECRET_KEY,
    Result,
    fmt_ratio,
    fresh_database,
    load,
    median_of,
    postgres_available,
    served,
)
from medcircle.auth import service as auth_service
from medcircle.auth.repository import user_by_username
from medcircle.cli.db import upgrade_database
from medcircle.cli.user import OPERATOR
from medcircle.config import Settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.demo import service as demo
from medcircle.demo.generator import generate


def prepare(url: str) -> str:
    """Migrate, load the demo world, and return an API token of the commission analyst."""
    upgrade_database(url)
    engine = make_engine(url)
    with unit_of_work(make_session_factory(engine)) as session:
        settings = Settings(database_url=url, secret_key=BENCH_SECRET_KEY)
        demo.load_world(session, OPERATOR, generate(2017), settings)
    with unit_of_work(make_session_factory(engine)) as session:
        user = user_by_username(session, "analyst")
        assert user is not None
        actor = auth_service.actor_for(session, user)
        raw, _ = auth_service.create_api_token(session, actor, "bench", 1)
    engine.dispose()
    return raw


def scenarios(token: str) -> dict[str, tuple[str, str]]:
    q = quote("保定")
    return {
        "ping (ceiling)": ("GET", "/api/v1/ping"),
        "institution search q=保定": ("GET", f"/api/v1/institutions?q={q}&size=50"),
        "alliance members page": ("GET", "/api/v1/alliances/1/members?size=50"),
        "staff search by specialty": ("GET", "/api/v1/practitioners?specialty=ped_hem_onc&size=50"),
        "agreements list (all)": ("GET", "/api/v1/agreements?status=all&size=50"),
    }


def run(backend: str, clients: int, requests: int, repeat: int) -> list[Result]:
    with fresh_database(backend) as url, tempfile.TemporaryDirectory() as data:
        token = prepare(url)
        headers = {"Authorization": f"Bearer {token}"}
        results = []
        with served(url, Path(data)) as base:
            for name, (method, path) in scenarios(token).items():
                # warm up connections and caches, then measure
                load(
                    base,
                    name,
                    lambda _i, m=method, p=path: (m, p, headers, None),
                    clients=clients,
                    total=clients * 2,
                )
                runs = [
                    load(
                        base,
                        name,
                        lambda _i, m=method, p=path: (m, p, headers, None),
                        clients=clients,
                        total=requests,
                    )
                    for _ in range(repeat)
                ]
                results.append(median_of(runs))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
    for backend in backends:
        results = run(backend, args.clients, args.requests, args.repeat)
        ceiling = results[0].throughput
        print(
            f"\n== {backend}: {args.clients} clients, {args.requests} requests per run, "
            f"median of {args.repeat} runs =="
        )
        for r in results:
            print(f"{r.row()}  ({fmt_ratio(r.throughput, ceiling)} of ceiling)")


if __name__ == "__main__":
    main()
