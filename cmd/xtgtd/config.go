package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/xtgt/xtgt/iscsi/scsi"
	"gopkg.in/yaml.v3"
)

// Config is xtgtd's declarative configuration (YAML).
type Config struct {
	Portals       []string      `yaml:"portals"`
	LogLevel      string        `yaml:"log_level"`
	NopInterval   time.Duration `yaml:"nop_interval"`
	NopTimeout    time.Duration `yaml:"nop_timeout"`
	DiscoveryCHAP *CHAP         `yaml:"discovery_chap"`
	// StateDir holds persistent-reservation state of LUs (APTPL); default "xtgt-state" beside the config
	// file, none without one (PERSISTENT RESERVE OUT with APTPL=1 is then refused).
	StateDir string       `yaml:"state_dir"`
	Targets  []TargetConf `yaml:"targets"`
}

// CHAP is a user name and secret.
type CHAP struct {
	User   string `yaml:"user"`
	Secret string `yaml:"secret"`
}

// TargetConf is one target node.
type TargetConf struct {
	Name       string    `yaml:"name"`
	Alias      string    `yaml:"alias"`
	CHAP       *CHAP     `yaml:"chap"`
	MutualCHAP *CHAP     `yaml:"mutual_chap"`
	ACL        []ACLConf `yaml:"acl"`
	LUNs       []LUNConf `yaml:"luns"`
}

// ACLConf admits one initiator, optionally with its own CHAP credentials.
type ACLConf struct {
	Initiator string `yaml:"initiator"`
	CHAP      *CHAP  `yaml:"chap"`
}

// LUNConf is one logical unit; LUN numbers follow the list order from 0 unless Number is set.
type LUNConf struct {
	Number    *uint64 `yaml:"number"`
	Backing   string  `yaml:"backing"` // ram:SIZE | file:PATH[:SIZE] | block:PATH
	BlockSize uint32  `yaml:"block_size"`
	ReadOnly  bool    `yaml:"read_only"`
	// WriteBack selects write-back caching (WCE=1); default true for RAM, false (write-through) otherwise.
	WriteBack *bool  `yaml:"write_back"`
	Serial    string `yaml:"serial"`
}

func loadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytesReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	var errs []error
	names := map[string]bool{}
	for i, t := range c.Targets {
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("targets[%d]: name is required", i))
		}
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("targets[%d]: duplicate name %q", i, t.Name))
		}
		names[t.Name] = true
		if len(t.LUNs) == 0 {
			errs = append(errs, fmt.Errorf("target %q: no luns", t.Name))
		}
		seen := map[uint64]bool{}
		for j, n := range t.lunNumbers() {
			if n > scsi.MaxLUN {
				errs = append(errs, fmt.Errorf("target %q luns[%d]: number %d above %d", t.Name, j, n, scsi.MaxLUN))
			}
			if seen[n] {
				errs = append(errs, fmt.Errorf("target %q luns[%d]: duplicate lun number %d", t.Name, j, n))
			}
			seen[n] = true
		}
		for j, l := range t.LUNs {
			if l.Backing == "" {
				errs = append(errs, fmt.Errorf("target %q luns[%d]: backing is required", t.Name, j))
			}
			if l.BlockSize != 0 && l.BlockSize != 512 && l.BlockSize != 4096 {
				errs = append(errs, fmt.Errorf("target %q luns[%d]: block_size must be 512 or 4096", t.Name, j))
			}
		}
		for _, ch := range []*CHAP{t.CHAP, t.MutualCHAP} {
			if ch != nil && (ch.User == "" || ch.Secret == "") {
				errs = append(errs, fmt.Errorf("target %q: chap needs user and secret", t.Name))
			}
		}
		if t.MutualCHAP != nil && t.CHAP == nil {
			errs = append(errs, fmt.Errorf("target %q: mutual_chap needs chap", t.Name))
		}
	}
	return errors.Join(errs...)
}

// lunNumbers returns the LUN number of each entry of t.LUNs: the list position counting on from the previous
// entry's number, unless Number is set.
func (t *TargetConf) lunNumbers() []uint64 {
	out := make([]uint64, len(t.LUNs))
	next := uint64(0)
	for i, l := range t.LUNs {
		n := next
		if l.Number != nil {
			n = *l.Number
		}
		out[i] = n
		next = n + 1
	}
	return out
}

// writeBack is the effective caching mode of l.
func (l *LUNConf) writeBack() bool {
	if l.WriteBack != nil {
		return *l.WriteBack
	}
	return strings.HasPrefix(l.Backing, "ram:")
}

// sameUnit reports whether a and b describe the same logical unit (a change in any of these re-creates it).
func sameUnit(a, b LUNConf) bool {
	return a.Backing == b.Backing && a.BlockSize == b.BlockSize && a.ReadOnly == b.ReadOnly &&
		a.writeBack() == b.writeBack() && a.Serial == b.Serial
}

// sameAccess reports whether a and b admit the same initiators with the same credentials and alias.
func sameAccess(a, b *TargetConf) bool {
	return a.Alias == b.Alias && sameCHAP(a.CHAP, b.CHAP) && sameCHAP(a.MutualCHAP, b.MutualCHAP) &&
		slices.EqualFunc(a.ACL, b.ACL, func(x, y ACLConf) bool { return x.Initiator == y.Initiator && sameCHAP(x.CHAP, y.CHAP) })
}

func sameCHAP(a, b *CHAP) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
