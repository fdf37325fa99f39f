"""SwiftDeploy's library: everything tasks.py does lives here (see README, Architecture)."""
