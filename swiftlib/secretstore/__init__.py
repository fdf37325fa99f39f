"""Secrets the app gets, on the controller: `sources` reads each value from where the manifest says
(an environment variable, a file outside the project, a command's output); `fingerprints` names a
value without revealing it (a keyed HMAC, the key kept outside the project). Values live in memory
and in the 0400 files the lifecycle step puts on the target, nowhere else."""
