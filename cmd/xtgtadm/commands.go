package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/xtgt/xtgt/internal/adminapi"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

var errUsage = errors.New("usage")

// run executes one xtgtadm command line, writing its output to out.
func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("xtgtadm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	socket := fs.String("socket", defaultSocket(), "xtgtd admin socket")
	raw := fs.Bool("j", false, "print the daemon's JSON answer")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	c := newClient(*socket)
	var (
		b   []byte
		err error
		pr  func([]byte, io.Writer) error
	)
	switch rest[0] {
	case "targets":
		b, err = c.call("GET", "/v1/targets", nil)
		pr = printTargets
	case "sessions":
		b, err = c.call("GET", "/v1/sessions", nil)
		pr = printSessions
	case "reload":
		b, err = c.call("POST", "/v1/reload", nil)
		pr = printChange
	case "lun":
		if len(rest) < 2 {
			return fmt.Errorf("lun needs add or remove\n%s", usage)
		}
		switch rest[1] {
		case "add":
			b, err = lunAdd(c, rest[2:])
		case "remove", "rm":
			b, err = lunRemove(c, rest[2:])
		default:
			return fmt.Errorf("unknown lun command %q\n%s", rest[1], usage)
		}
		pr = printChange
	case "help", "-h", "--help":
		_, err := io.WriteString(out, usage)
		return err
	default:
		return fmt.Errorf("unknown command %q\n%s", rest[0], usage)
	}
	if err != nil {
		return err
	}
	if *raw {
		_, err := out.Write(b)
		return err
	}
	return pr(b, out)
}

func lunAdd(c *client, args []string) ([]byte, error) {
	fs := flag.NewFlagSet("lun add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tgt := fs.String("target", "", "target IQN")
	backing := fs.String("backing", "", "ram:SIZE | file:PATH[:SIZE] | block:PATH")
	number := fs.String("number", "", "LUN number (default: lowest free)")
	ro := fs.Bool("read-only", false, "read-only LUN")
	wb := fs.Bool("write-back", false, "write-back caching (default: on for RAM, off otherwise)")
	bs := fs.Uint("block-size", 0, "512 or 4096 (default 512)")
	removable := fs.Bool("removable", false, "removable medium (PREVENT ALLOW MEDIUM REMOVAL, eject/load)")
	pbexp := fs.Uint("physical-block-exponent", 0, "logical blocks per physical block, as a power of two (0..15)")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("lun add: %w", err)
	}
	if *tgt == "" || *backing == "" || fs.NArg() > 0 {
		return nil, errors.New("lun add needs --target IQN and --backing SPEC")
	}
	if *pbexp > 15 {
		return nil, fmt.Errorf("lun add: --physical-block-exponent %d is above 15", *pbexp)
	}
	req := adminapi.AddLUN{Backing: *backing, ReadOnly: *ro, BlockSize: uint32(*bs), Removable: *removable,
		PhysicalBlockExponent: uint8(*pbexp)}
	if *number != "" {
		n, err := strconv.ParseUint(*number, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("lun add: --number %q is not a number", *number)
		}
		req.Number = &n
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "write-back" {
			req.WriteBack = wb
		}
	})
	return c.call("POST", targetPath(*tgt), req)
}

func lunRemove(c *client, args []string) ([]byte, error) {
	fs := flag.NewFlagSet("lun remove", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tgt := fs.String("target", "", "target IQN")
	number := fs.String("number", "", "LUN number")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("lun remove: %w", err)
	}
	if *tgt == "" || *number == "" || fs.NArg() > 0 {
		return nil, errors.New("lun remove needs --target IQN and --number N")
	}
	n, err := strconv.ParseUint(*number, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("lun remove: --number %q is not a number", *number)
	}
	return c.call("DELETE", targetPath(*tgt)+"/"+strconv.FormatUint(n, 10), nil)
}

func printTargets(b []byte, out io.Writer) error {
	var r struct {
		Targets []adminapi.Target `json:"targets"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSESSIONS\tLUN\tBACKING\tSIZE\tBLOCK\tMODE\tCACHE\tACCESS")
	for _, t := range r.Targets {
		var notes []string
		if t.Alias != "" {
			notes = append(notes, "alias="+t.Alias)
		}
		if len(t.ACL) > 0 {
			notes = append(notes, "acl="+strings.Join(t.ACL, ","))
		}
		if t.MutualCHAP {
			notes = append(notes, "mutual-chap")
		} else if t.CHAP {
			notes = append(notes, "chap")
		}
		if len(notes) == 0 {
			notes = append(notes, "open")
		}
		name, sessions, access := t.Name, strconv.Itoa(t.Sessions), strings.Join(notes, " ")
		if len(t.LUNs) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t\t\t\t\t\t%s\n", name, sessions, access)
		}
		for _, l := range t.LUNs {
			mode, cache := "rw", "write-through"
			if l.ReadOnly {
				mode = "ro"
			}
			if l.WriteBack {
				cache = "write-back"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\n", name, sessions, l.Number, l.Backing,
				humanSize(l.Size), l.BlockSize, mode, cache, access)
			name, sessions, access = "", "", ""
		}
	}
	return tw.Flush()
}

func printSessions(b []byte, out io.Writer) error {
	var r struct {
		Sessions []adminapi.Session `json:"sessions"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TSIH\tINITIATOR\tISID\tTARGET\tREMOTE")
	for _, s := range r.Sessions {
		t := s.Target
		if s.Discovery {
			t = "(discovery)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.TSIH, s.Initiator, s.ISID, t, s.Remote)
	}
	return tw.Flush()
}

func printChange(b []byte, out io.Writer) error {
	var r adminapi.Change
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if r.Number != nil {
		fmt.Fprintf(out, "target %s lun %d: done", r.Target, *r.Number)
		if r.Persisted {
			fmt.Fprint(out, " (saved to the config file)")
		}
		fmt.Fprintln(out)
	}
	for _, c := range r.Changes {
		fmt.Fprintln(out, c)
	}
	if r.Number == nil && len(r.Changes) == 0 {
		fmt.Fprintln(out, "reloaded: no changes")
	}
	if r.Note != "" {
		fmt.Fprintln(out, "note:", r.Note)
	}
	return nil
}

// humanSize prints a byte count with a binary suffix when it divides evenly.
func humanSize(n int64) string {
	for _, u := range []struct {
		s     string
		shift uint
	}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
