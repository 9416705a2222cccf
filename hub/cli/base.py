"""What every ``shuyu`` command shares: the app (home, database, actor), the success line and
the bilingual argument parser. The command modules import this, never each other."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from hub import home
from hub.audit_anchor import Anchor
from hub.db.engine import Database
from hub.ops import Ctx

EXIT_USAGE = 2
EXIT_FAILED = 1


def ok(zh: str, en: str) -> None:
    """One bilingual success line, the same for every command."""
    print(f"{zh} / {en}")


class App:
    """What a command needs: the home folder, the platform DB, the acting person."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.home = home.shuyu_home()
        self.actor = args.actor or f"cli:{getpass.getuser()}"
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self.home.mkdir(parents=True, exist_ok=True)
            self._db = Database(
                home.configured_db_url(self.home), anchor=Anchor.for_home(self.home)
            )
        return self._db

    def run(self, op: Callable[[Ctx], object]) -> object:
        """Run ``op`` in one transaction: all of it, with its audit event, or nothing."""
        with self.db.session() as session:
            return op(
                Ctx(session=session, actor=self.actor, pepper=home.secret("id_pepper", self.home))
            )


class Parser(argparse.ArgumentParser):
    """Usage errors in both languages, exit status 2."""

    def error(self, message: str):  # bilingual usage errors, exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"参数错误 / usage error: {message}\n")
