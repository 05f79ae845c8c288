// Command xtgtbench is xtgt's load generator: `xtgtbench iscsi` drives an iSCSI target through the Go
// initiator library, `xtgtbench rdma` drives the software RNIC in the manner of perftest.
package main

import (
	"fmt"
	"os"
	"sort"
)

// subcommand is one mode of xtgtbench; each registers itself from its own file.
type subcommand struct {
	summary string
	run     func(args []string) error
}

var subcommands = map[string]subcommand{}

func register(name, summary string, run func(args []string) error) {
	subcommands[name] = subcommand{summary: summary, run: run}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: xtgtbench MODE [flags]   (xtgtbench MODE -h for flags)")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, subcommands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	sc, ok := subcommands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "xtgtbench: unknown mode %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := sc.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "xtgtbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
