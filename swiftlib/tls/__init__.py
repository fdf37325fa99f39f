"""Certificates for the public HTTPS listener: reading and checking them (`certinfo`), the project's
own CA (`local_ca`) and issuance from an ACME CA (`acme_issue`). Nothing here touches a host."""
