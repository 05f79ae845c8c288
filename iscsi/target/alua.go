package target

import "slices"

// PortalGroup is one target portal group (RFC 7143 §4.4.1): portals whose connections carry the same target
// portal group tag. A session's SCSI target port is its target name plus that tag, so the tag also names the
// target port group of asymmetric logical unit access (scsi.PortGroup) the session's commands go through.
type PortalGroup struct {
	Tag     uint16
	Portals []string // "host:port", as reported in SendTargets
}

// portalAddr is a portal reported in SendTargets and its tag.
type portalAddr struct {
	addr string
	tag  uint16
}

// SetPortalGroups replaces the portal groups SendTargets reports (after a reconfiguration). Connections already
// accepted keep their tag.
func (s *Server) SetPortalGroups(groups []PortalGroup) {
	gs := make([]PortalGroup, len(groups))
	for i, g := range groups {
		gs[i] = PortalGroup{Tag: g.Tag, Portals: slices.Clone(g.Portals)}
	}
	s.mu.Lock()
	s.cfg.PortalGroups = gs
	s.mu.Unlock()
}

// portals returns the portals SendTargets reports with their tags: Config.Portals (each with the tag of the
// group listing it, else PortalGroupTag), or when there are none every group's portals.
func (s *Server) portals() []portalAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []portalAddr
	if len(s.cfg.Portals) == 0 {
		for _, g := range s.cfg.PortalGroups {
			for _, p := range g.Portals {
				out = append(out, portalAddr{p, g.Tag})
			}
		}
		return out
	}
	for _, p := range s.cfg.Portals {
		tag := s.cfg.PortalGroupTag
		for _, g := range s.cfg.PortalGroups {
			if slices.Contains(g.Portals, p) {
				tag = g.Tag
				break
			}
		}
		out = append(out, portalAddr{p, tag})
	}
	return out
}

// connTPGT is the target portal group tag of the listener c arrived on.
func (s *Server) connTPGT(c *conn) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tag, ok := s.conns[c]; ok {
		return tag
	}
	return s.cfg.PortalGroupTag
}
