//go:build !linux

package egress

import "net"

// splice is Linux only; elsewhere every tunnel takes the generic copy.
func (t *tunnel) splice(dst, src net.Conn, count func(int64), limit int64) (bool, error) {
	return false, nil
}
