"""SwiftDeploy's library: everything the `swiftdeploy` command does lives here (see README, Architecture)."""
