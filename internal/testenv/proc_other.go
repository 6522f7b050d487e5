//go:build !linux

package testenv

import "os/exec"

// setDeathSignal is a no-op where the kernel has no parent-death signal;
// t.Cleanup still kills the child.
func setDeathSignal(*exec.Cmd) {}
