"""Writing to an SSH channel's stdin so that nothing follows our CLOSE of the channel.

A command that ends before it has read all its stdin makes the server close the channel at
once, and paramiko answers with our CLOSE from its own thread. paramiko builds a data or EOF
message under the channel's lock but sends it after letting go (and ``shutdown_write()`` does not
look whether the channel has closed at all), so the message could follow our CLOSE; OpenSSH
answers data or EOF for a channel it has freed by dropping the whole connection, and every other
command on it fails "without an exit status". Here the check and the send happen under the
channel's lock. The send also takes the transport's send lock; during a key exchange the wait
for it is done outside the channel's lock, which is paramiko's own rule (holding the lock there
can deadlock the exchange).

- ``send_data(channel, data)`` -> bytes sent (0: the channel has closed or sent EOF)
- ``send_eof(channel)``
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # paramiko is imported where a message is built: a local run never loads it
    from paramiko import Channel, Message

KEX_POLL = 0.1  # seconds between looks while a key exchange holds sends back (as paramiko waits)


def _send_unless_closed(channel: Channel, build: Callable[[], Message | None]) -> bool:
    """Send ``build()`` (called under both locks) unless the channel has closed; False when not sent."""
    while True:
        with channel.lock:
            transport = channel.transport
            if channel.closed or transport is None or not transport.active:
                return False
            with transport.clear_to_send_lock:
                if transport.clear_to_send.is_set():
                    message = build()
                    if message is None:
                        return False
                    transport._send_message(message)
                    return True
        transport.clear_to_send.wait(KEX_POLL)


def send_eof(channel: Channel) -> None:
    _send_unless_closed(channel, lambda: None if channel.eof_sent else channel._send_eof())


def send_data(channel: Channel, data: bytes | memoryview) -> int:
    """Up to the window's worth of ``data``; waits for the window like ``Channel.send``."""
    with channel.lock:  # the wait for window releases the lock meanwhile, as paramiko's own send does
        size = channel._wait_for_send_window(len(data))
    if size == 0:
        return 0
    from paramiko import Message
    from paramiko.common import cMSG_CHANNEL_DATA

    message = Message()
    message.add_byte(cMSG_CHANNEL_DATA)
    message.add_int(channel.remote_chanid)
    message.add_string(bytes(data[:size]))
    return size if _send_unless_closed(channel, lambda: message) else 0


def send_all(channel: Channel, data: bytes) -> bool:
    """All of ``data``, or False once the channel has closed (the command stopped reading)."""
    view = memoryview(data)
    while view:
        sent = send_data(channel, view)
        if sent == 0:
            return False
        view = view[sent:]
    return True
