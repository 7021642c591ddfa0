"""Point-in-time recovery with pgBackRest, and a filestore that can follow.

- :mod:`.settings`: where everything lives for a deployment (:class:`PitrSetup`),
  the pgBackRest configuration and the PostgreSQL settings it needs;
- :mod:`.pgbackrest`: running ``pgbackrest`` (as the cluster's OS user) and
  reading ``pgbackrest info --output=json``;
- :mod:`.window`: the recoverable window and the archive state of the server;
- :mod:`.actions`: ``setup``, ``backup``, ``info``;
- :mod:`.filestore`: the content-addressed filestore archive;
- :mod:`.restore`: a database back to a moment, into a new database.
"""
