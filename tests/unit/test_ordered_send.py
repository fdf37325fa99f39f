"""remote.ordered_send on a real paramiko Channel whose transport is a stand-in recording what is sent:
the key exchange (sends held back) and a close arriving meanwhile are injected."""
from __future__ import annotations

import threading
import time

import paramiko
from paramiko.common import cMSG_CHANNEL_DATA, cMSG_CHANNEL_EOF

from swiftlib.remote.ordered_send import send_all, send_eof


class Transport:
    """What ordered_send uses of paramiko's Transport, with the same meaning."""

    def __init__(self) -> None:
        self.active = True
        self.clear_to_send = threading.Event()
        self.clear_to_send.set()
        self.clear_to_send_lock = threading.Lock()
        self.sent: list[bytes] = []

    def _send_message(self, message: paramiko.Message) -> None:
        self.sent.append(message.asbytes())


def channel(window: int = 1 << 20) -> tuple[paramiko.Channel, Transport]:
    chan = paramiko.Channel(3)
    transport = Transport()
    chan.transport = transport
    chan.active = True
    chan.remote_chanid = 7
    chan.out_window_size = window
    chan.out_max_packet_size = 32768
    return chan, transport


def kinds(transport: Transport) -> list[int]:
    return [m[0] for m in transport.sent]


def test_data_goes_in_packets_then_one_eof() -> None:
    chan, transport = channel()
    assert send_all(chan, b"x" * 100_000)
    send_eof(chan)
    send_eof(chan)  # once only
    assert kinds(transport) == [cMSG_CHANNEL_DATA[0]] * 4 + [cMSG_CHANNEL_EOF[0]]
    assert sum(len(m) - 9 for m in transport.sent[:-1]) == 100_000  # less type, channel id, length prefix


def test_nothing_is_sent_on_a_closed_channel() -> None:
    chan, transport = channel()
    chan.closed = True
    assert not send_all(chan, b"data")
    send_eof(chan)
    assert transport.sent == []


def test_a_key_exchange_holds_the_eof_back_until_it_ends() -> None:
    chan, transport = channel()
    transport.clear_to_send.clear()
    threading.Timer(0.3, transport.clear_to_send.set).start()
    started = time.monotonic()
    send_eof(chan)
    assert time.monotonic() - started >= 0.25
    assert kinds(transport) == [cMSG_CHANNEL_EOF[0]]


def test_a_close_during_a_key_exchange_means_no_eof_and_the_channel_lock_is_free_meanwhile() -> None:
    """While sends are held back the channel's lock is not held (paramiko's thread needs it to handle
    the server's messages); the server's close handled then means the EOF is never sent."""
    chan, transport = channel()
    transport.clear_to_send.clear()

    def server_closes() -> None:
        time.sleep(0.2)
        with chan.lock:  # as paramiko's thread takes it to handle CHANNEL_CLOSE
            chan.closed = True
        transport.clear_to_send.set()

    closer = threading.Thread(target=server_closes)
    closer.start()
    send_eof(chan)
    closer.join(2)
    assert not closer.is_alive()
    assert transport.sent == []


def test_a_local_run_never_loads_paramiko():
    """What a local deploy imports, the byte channel and image IDs included (the compose runtime reads image
    IDs through remote.images), leaves paramiko unloaded: its import costs about 0.3 s of every start-up."""
    import subprocess
    import sys

    probe = ("import sys, swiftlib.cli.program, swiftlib.lifecycle.flows, swiftlib.run.table, "
             "swiftlib.remote.images, swiftlib.remote.channel, swiftlib.remote.ordered_send, swiftlib.host; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('paramiko', 'fabric')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", loaded
