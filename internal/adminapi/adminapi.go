// Package adminapi holds the JSON messages of xtgtd's admin API (HTTP over a unix socket; see docs/ADMIN.md),
// shared by the daemon and xtgtadm.
package adminapi

// Target is one target in GET /v1/targets.
type Target struct {
	Name       string   `json:"name"`
	Alias      string   `json:"alias,omitempty"`
	LUNs       []LUN    `json:"luns"`
	ACL        []string `json:"acl,omitempty"`
	CHAP       bool     `json:"chap"`
	MutualCHAP bool     `json:"mutual_chap"`
	Sessions   int      `json:"sessions"`
}

// LUN is one logical unit.
type LUN struct {
	Number    uint64 `json:"number"`
	Backing   string `json:"backing"`
	Size      int64  `json:"size"`
	BlockSize uint32 `json:"block_size"`
	ReadOnly  bool   `json:"read_only"`
	WriteBack bool   `json:"write_back"`
	Serial    string `json:"serial,omitempty"`
	// Removable media (INQUIRY RMB=1) and logical blocks per physical block exponent.
	Removable             bool  `json:"removable,omitempty"`
	PhysicalBlockExponent uint8 `json:"physical_block_exponent,omitempty"`
}

// Session is one session in GET /v1/sessions.
type Session struct {
	TSIH      uint16 `json:"tsih"`
	Initiator string `json:"initiator"`
	ISID      string `json:"isid"` // 12 hex digits
	Target    string `json:"target,omitempty"`
	Remote    string `json:"remote"`
	Discovery bool   `json:"discovery,omitempty"`
}

// AddLUN is the body of POST /v1/targets/{target}/luns.
type AddLUN struct {
	Number    *uint64 `json:"number,omitempty"` // lowest free number when absent
	Backing   string  `json:"backing"`
	BlockSize uint32  `json:"block_size,omitempty"`
	ReadOnly  bool    `json:"read_only,omitempty"`
	WriteBack *bool   `json:"write_back,omitempty"`
	Serial    string  `json:"serial,omitempty"`
	// Removable media (PREVENT ALLOW MEDIUM REMOVAL, eject/load) and the logical blocks per
	// physical block exponent (0..15), as in the config file.
	Removable             bool  `json:"removable,omitempty"`
	PhysicalBlockExponent uint8 `json:"physical_block_exponent,omitempty"`
}

// Change answers a LUN change or a reload.
type Change struct {
	Target    string   `json:"target,omitempty"`
	Number    *uint64  `json:"number,omitempty"`
	Persisted bool     `json:"persisted"`
	Note      string   `json:"note,omitempty"`
	Changes   []string `json:"changes,omitempty"`
}

// Error is the body of every failed request.
type Error struct {
	Error string `json:"error"`
}
