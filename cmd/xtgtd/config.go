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
	Portals []string `yaml:"portals"`
	// PortalGroups assign portals to target portal groups with an ALUA state each (exclusive with Portals);
	// without them every portal is in group 1, active/optimized. After effectiveConfig, Portals lists every
	// group's portals.
	PortalGroups  []PortalGroupConf `yaml:"portal_groups"`
	LogLevel      string            `yaml:"log_level"`
	NopInterval   time.Duration     `yaml:"nop_interval"`
	NopTimeout    time.Duration     `yaml:"nop_timeout"`
	DiscoveryCHAP *CHAP             `yaml:"discovery_chap"`
	// StateDir holds persistent-reservation state of LUs (APTPL); default "xtgt-state" beside the config
	// file, none without one (PERSISTENT RESERVE OUT with APTPL=1 is then refused).
	StateDir string       `yaml:"state_dir"`
	Targets  []TargetConf `yaml:"targets"`
}

// PortalGroupConf is one target portal group: its tag (the TPGT, target port group and relative target port
// identifier its sessions see), its portals and its asymmetric access state (scsi.ParseAccessState names;
// default active-optimized).
type PortalGroupConf struct {
	Tag     uint16   `yaml:"tag"`
	Portals []string `yaml:"portals"`
	State   string   `yaml:"state"`
}

// accessState is the ALUA state of g (validated).
func (g *PortalGroupConf) accessState() scsi.AccessState {
	if g.State == "" {
		return scsi.ActiveOptimized
	}
	s, _ := scsi.ParseAccessState(g.State)
	return s
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
	// Removable reports removable media (INQUIRY RMB=1): PREVENT ALLOW MEDIUM REMOVAL and START STOP UNIT
	// LOEJ eject/load take effect.
	Removable bool `yaml:"removable"`
	// PhysicalBlockExponent: 2^N logical blocks per physical block (READ CAPACITY(16) LBPPBE), 0..15.
	PhysicalBlockExponent uint8 `yaml:"physical_block_exponent"`
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
	errs := c.validatePortalGroups()
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
			if l.PhysicalBlockExponent > 15 {
				errs = append(errs, fmt.Errorf("target %q luns[%d]: physical_block_exponent must be 0..15", t.Name, j))
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

// validatePortalGroups checks that tags are unique and non-zero, states known, and that each portal is in
// exactly one group.
func (c *Config) validatePortalGroups() []error {
	var errs []error
	if len(c.PortalGroups) > 0 && len(c.Portals) > 0 {
		errs = append(errs, errors.New("portals and portal_groups are exclusive: list the portals in their groups"))
	}
	tags := map[uint16]bool{}
	where := map[string]uint16{}
	for i, g := range c.PortalGroups {
		if g.Tag == 0 {
			errs = append(errs, fmt.Errorf("portal_groups[%d]: tag must be 1-65535", i))
		}
		if tags[g.Tag] {
			errs = append(errs, fmt.Errorf("portal_groups[%d]: duplicate tag %d", i, g.Tag))
		}
		tags[g.Tag] = true
		if len(g.Portals) == 0 {
			errs = append(errs, fmt.Errorf("portal group %d: no portals", g.Tag))
		}
		if g.State != "" {
			if _, err := scsi.ParseAccessState(g.State); err != nil {
				errs = append(errs, fmt.Errorf("portal group %d: %w", g.Tag, err))
			}
		}
		for _, p := range g.Portals {
			if other, ok := where[p]; ok {
				errs = append(errs, fmt.Errorf("portal %s is in portal groups %d and %d", p, other, g.Tag))
			}
			where[p] = g.Tag
		}
	}
	return errs
}

// normalizePortalGroups makes the default group (tag 1, active/optimized, every portal) explicit, or lists
// the groups' portals in Portals.
func (c *Config) normalizePortalGroups() {
	if len(c.PortalGroups) == 0 {
		c.PortalGroups = []PortalGroupConf{{Tag: 1, Portals: slices.Clone(c.Portals)}}
		return
	}
	c.Portals = nil
	for _, g := range c.PortalGroups {
		c.Portals = append(c.Portals, g.Portals...)
	}
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
		a.writeBack() == b.writeBack() && a.Serial == b.Serial && a.Removable == b.Removable &&
		a.PhysicalBlockExponent == b.PhysicalBlockExponent
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
