module forgeharness

go 1.24
