package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The main target serves LUN 0 with the daemon's default properties; a second target serves logical units with
// the properties some suites need (without them those suites skip). Each suite still runs once, against one LUN.
const (
	mainIQN  = "iqn.2026-11.dev.xtgt:default"
	extraIQN = "iqn.2026-11.dev.xtgt:props"
)

// Logical units of the extra target.
const (
	lunRemovable = iota // removable medium: PREVENT ALLOW MEDIUM REMOVAL, START STOP UNIT LOEJ
	lunReadOnly         // write protected
	lunLBPPB            // 8 logical blocks per physical block (LBPPBE 3), thin provisioned
)

// suiteLUN picks, for a suite that needs a property, the extra target's LUN it runs against. Every test of
// such a suite must be able to run (and pass) there.
var suiteLUN = map[string]int{
	"SCSI.PreventAllow": lunRemovable,
	// SCSI.StartStopUnit stays on the main LUN: its PwrCnd test expects reserved POWER CONDITION values to be
	// accepted on removable units, which SPC-4 (reserved code values shall be reported as an error) forbids.
	"SCSI.ReadOnly":        lunReadOnly,
	"SCSI.CompareAndWrite": lunLBPPB,
	"SCSI.WriteSame10":     lunLBPPB,
	"SCSI.WriteSame16":     lunLBPPB,
}

const configYAML = `targets:
  - name: %s
    luns:
      - backing: ram:1G
  - name: %s
    luns:
      - backing: ram:64M
        removable: true
      - backing: ram:64M
        read_only: true
      - backing: ram:256M
        physical_block_exponent: 3
`

// writeConfig writes the daemon's YAML configuration (both targets) into out and returns its path.
func writeConfig(out string) (string, error) {
	p, err := filepath.Abs(filepath.Join(out, "xtgtd.yaml"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(p, []byte(fmt.Sprintf(configYAML, mainIQN, extraIQN)), 0o644); err != nil {
		return "", err
	}
	return p, nil
}

// overridesTargets reports whether the extra daemon arguments define the logical units themselves (then only
// the main target exists and every suite runs against it).
func overridesTargets(extra string) bool {
	for _, f := range strings.Fields(extra) {
		f = strings.TrimLeft(f, "-")
		if f == "lun" || f == "config" || strings.HasPrefix(f, "lun=") || strings.HasPrefix(f, "config=") ||
			f == "target" || strings.HasPrefix(f, "target=") {
			return true
		}
	}
	return false
}

// urlFor returns the URL a suite runs against: the main LUN, or the extra target's LUN it needs.
func urlFor(suite, mainURL, extraBase string) string {
	if n, ok := suiteLUN[suite]; ok && extraBase != "" {
		return fmt.Sprintf("%s/%d", extraBase, n)
	}
	return mainURL
}
