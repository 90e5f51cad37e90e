//go:build windows

package exportengine

import (
	"syscall"

	"golang.org/x/sys/windows"
)

func detachedProcess() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP}
}
