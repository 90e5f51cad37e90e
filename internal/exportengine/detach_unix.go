//go:build unix

package exportengine

import "syscall"

func detachedProcess() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
