//go:build unix

package exportengine

import "golang.org/x/sys/unix"

// freeSpace is what the file system of dir has free for this process, in bytes.
func freeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil //nolint:unconvert // int64 and uint32 on some platforms
}
