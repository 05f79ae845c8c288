package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLUNPropertiesConfig(t *testing.T) {
	tests := []struct {
		name, yaml, err string
		removable       bool
		exp             uint8
	}{
		{name: "defaults", yaml: "targets:\n  - name: iqn.2026-11.test:t\n    luns:\n      - backing: ram:1M\n"},
		{name: "set", yaml: "targets:\n  - name: iqn.2026-11.test:t\n    luns:\n      - backing: ram:1M\n" +
			"        removable: true\n        physical_block_exponent: 3\n", removable: true, exp: 3},
		{name: "exponent too large", yaml: "targets:\n  - name: iqn.2026-11.test:t\n    luns:\n      - backing: ram:1M\n" +
			"        physical_block_exponent: 16\n", err: "physical_block_exponent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l := c.Targets[0].LUNs[0]
			if l.Removable != tc.removable || l.PhysicalBlockExponent != tc.exp {
				t.Fatalf("got removable %v exponent %d", l.Removable, l.PhysicalBlockExponent)
			}
			m := l
			m.Removable = !m.Removable
			n := l
			n.PhysicalBlockExponent++
			if sameUnit(l, m) || sameUnit(l, n) || !sameUnit(l, l) {
				t.Fatal("sameUnit ignores the new properties")
			}
		})
	}
}
