package main

import (
	"fmt"
	"net"
)

// listenXDP serves a portal "xdp:IFACE:IP:PORT" through the AF_XDP userspace TCP engine.
func listenXDP(portal string) (net.Listener, error) {
	return nil, fmt.Errorf("portal %s: the AF_XDP portal is not available in this build yet", portal)
}
