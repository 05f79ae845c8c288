// Command xtgtadm administers a running xtgtd through its admin socket: it lists targets and sessions, adds
// and removes LUNs, and asks xtgtd to re-read its configuration file (docs/ADMIN.md).
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "xtgtadm:", err)
		os.Exit(1)
	}
}

const usage = `usage: xtgtadm [--socket PATH] [-j] COMMAND
commands:
  targets                               list targets and their LUNs
  sessions                              list sessions
  lun add --target IQN --backing SPEC [--number N] [--read-only] [--write-back] [--block-size N]
                                        add a LUN (persisted when xtgtd runs with --config)
  lun remove --target IQN --number N    remove a LUN
  reload                                re-read xtgtd's config file
`
