"""`make run`: the web server in the foreground and the django-q2 cluster beside it.

Both are child processes of this command; Ctrl-C (SIGINT), SIGTERM or SIGHUP stops both, and if one of
them dies the other is stopped too, so no orphaned cluster keeps running jobs after the server
is gone.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

STOP_GRACE_SECONDS = 20


class Command(BaseCommand):
    help = "Set up the job schedules, start the django-q2 cluster and serve the site; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options):
        call_command("setup_schedules", stdout=self.stdout)
        broker = "Redis" if settings.Q_CLUSTER.get("redis") else "database (ORM)"
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        # Own process groups: the terminal's Ctrl-C reaches only this command, which then stops
        # the children in order (cluster first, so no job starts against a dying server's data).
        cluster = subprocess.Popen([*manage, "qcluster"], start_new_session=True)
        self.stdout.write(f"django-q2 cluster started (pid {cluster.pid}, {broker} broker)")
        server = subprocess.Popen([*manage, "runserver", "--noreload", addrport], start_new_session=True)
        children = {"cluster": cluster, "server": server}

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        exit_code = 0
        while not stopping:
            ended = {name: p.returncode for name, p in children.items() if p.poll() is not None}
            if ended:
                name, code = next(iter(ended.items()))
                self.stderr.write(f"the {name} stopped (exit {code}); stopping the rest")
                exit_code = code or 1
                break
            time.sleep(0.5)
        self.stdout.write("stopping the cluster and the server…")
        for p in (cluster, server):
            _stop(p)
        if exit_code:
            sys.exit(exit_code)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    # qcluster finishes the running tasks on SIGTERM; runserver just exits.
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the cluster's workers too
        process.wait()
