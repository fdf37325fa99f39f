"""Running the lifecycle on remote Docker hosts over SSH.

- ``connect``   HostSpec / ``user@host:port`` -> a connected ``Host`` (host keys verified)
- ``channel``   raw byte streams over an SSH session (uploads, ``docker load``)
- ``ordered_send`` a command's stdin over SSH, never sent after the channel's close
- ``workspace`` the project directory on a remote host (``RemoteWorkspace``)
- ``images``    ``docker save`` | ``docker load`` straight over the connection
- ``lock``      the per-host deploy lock (remote or local)
- ``batches``   ``--serial`` / ``--max-fail-percentage`` (pure)
- ``runner``    one function on many hosts, batch by batch, in threads

Import the submodules directly; this package imports nothing so that a local run
never loads paramiko.
"""
