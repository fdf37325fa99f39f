"""gunicorn settings for the SwiftDeploy service (``gunicorn -c gunicorn.conf.py app:app``)."""
import os
import sys

# Let `import app_settings` work whatever directory gunicorn was started from.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from app_settings import THREADS, parse_port  # noqa: E402
from app_worker import end_at_once, leave_with_last_worker, wake_on_signals  # noqa: E402

# APP_HOST exists for tests that must stay on loopback; in a container the app
# listens on every interface of its own network namespace and nginx fronts it.
bind = f"{os.environ.get('APP_HOST', '0.0.0.0')}:{parse_port(os.environ)}"

# Exactly ONE worker process: chaos state (POST /chaos) lives in process memory,
# so with several workers a chaos switch would hit only the worker that served it
# and /metrics would report one worker's counters. Concurrency comes from threads.
workers = 1
threads = THREADS
worker_class = "gthread"


def post_worker_init(worker):
    # A SIGTERM (docker stop) wakes the worker's wait at once, not after gunicorn 20.1's 1 s poll.
    wake_on_signals(worker)


def worker_exit(server, worker):
    # A worker stopped cleanly skips the interpreter's teardown (about 60 ms of every `docker stop`).
    end_at_once(worker)


def child_exit(server, worker):
    # A stopping master whose last worker is gone exits now, not at its next 0.1 s look.
    leave_with_last_worker(server)


# nginx writes the access log; gunicorn only logs errors, to stderr.
accesslog = None
errorlog = "-"
loglevel = "info"

# Containers stop fast: docker's stop timeout is 10 s, so finish within it.
graceful_timeout = 5
# Long enough for an injected chaos delay; the gthread heartbeat keeps the worker alive anyway.
timeout = 30
keepalive = 5

# gunicorn >= 25.1 opens a control socket under $HOME by default; the app user has
# no home and nothing here uses gunicornc. Older versions ignore unknown names.
control_socket_disable = True

# The heartbeat file wants a tmpfs: /dev/shm also works with a read-only root filesystem.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
