"""The command line: `tasks` (the collection), `args` (flags shared by the tasks), `program` (`swiftdeploy`)."""
