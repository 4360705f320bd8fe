/*
 * view.c - the database as it stood when a held import began, for the
 * import's own reading thread.
 *
 * An import that holds the database (db.c, begin) writes it through a
 * rollback journal, and a reader's lock would stop it writing.  Its
 * reading thread looks members and receipts up through a connection that
 * takes no lock (SQLite's immutable mode) while the import writes the
 * same file.  What keeps that connection's answers right: every page the
 * import writes to the file is marked here before it is written, and a
 * read by that connection of a page marked (or past the file's end when
 * the import began) fails.  So each page it reads is the page as it was
 * when the import began, or an error; a b-tree walked from the old root
 * through old pages finds what the database held before the import, and
 * an error leaves the look-up to the import (mbr_sale_ahead_note).  The
 * mark is made before the write and checked after the read: a read that
 * saw any byte of a write sees its mark.
 *
 * All of it is a VFS ("mbr") over the default one, which does all the
 * work: it wraps database files only, passing every call through, and
 * adds the mark in xWrite of the file being tracked (mbr_view_track) and
 * the check in xRead of a view's file (opened with the URI parameter
 * mbr_view=1).  One import is tracked at a time in a process; the marks,
 * a byte a page (128 KiB a GB of database), stay allocated until the next
 * import is tracked, so a view never reads freed memory.  Part of the db
 * module: db.c starts and ends the tracking; the tests are test_db.c's.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

struct vfile {
	sqlite3_file base;
	sqlite3_file *real;		/* the default VFS's file, after this */
	const char *name;		/* its full path (SQLite keeps it) */
	int track;			/* writes are marked */
	int view;			/* reads are checked */
};

#define REAL(f) (((struct vfile *)(f))->real)

/* the import being tracked */
static struct {
	int state;			/* 0 none, 1 tracking, 2 ended: atomic */
	unsigned char *marks;		/* a page written since it began: atomic */
	int64_t npages;			/* pages when it began */
	int page_size;
	char path[4096];		/* its database's full path */
} tr;

static sqlite3_vfs *base_vfs;

static void mark(sqlite3_int64 off, int n)
{
	int64_t p, last = (off + n - 1) / tr.page_size;

	for (p = off / tr.page_size; p <= last && p < tr.npages; p++)
		__atomic_store_n(&tr.marks[p], 1, __ATOMIC_SEQ_CST);
}

/* Were the n bytes at off, just read, as they stood when tracking began? */
static int unchanged(const struct vfile *f, sqlite3_int64 off, int n)
{
	int64_t p, last = (off + n - 1) / tr.page_size;

	if (__atomic_load_n(&tr.state, __ATOMIC_SEQ_CST) != 1 || strcmp(f->name, tr.path))
		return 0;
	if (last >= tr.npages)
		return 0;
	for (p = off / tr.page_size; p <= last; p++)
		if (__atomic_load_n(&tr.marks[p], __ATOMIC_SEQ_CST))
			return 0;
	return 1;
}

static int v_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int v_read(sqlite3_file *pf, void *buf, int n, sqlite3_int64 off)
{
	struct vfile *f = (struct vfile *)pf;
	int rc = REAL(f)->pMethods->xRead(REAL(f), buf, n, off);

	if (f->view && rc == SQLITE_OK && !unchanged(f, off, n))
		return SQLITE_BUSY;	/* not IOERR: SQLite would end the read transaction */
	return rc;
}

static int v_write(sqlite3_file *pf, const void *buf, int n, sqlite3_int64 off)
{
	struct vfile *f = (struct vfile *)pf;

	if (f->track && __atomic_load_n(&tr.state, __ATOMIC_SEQ_CST) == 1)
		mark(off, n);
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int v_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int v_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int v_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int v_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int v_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int v_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int v_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int v_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int v_device_characteristics(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int v_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int v_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void v_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int v_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2: no xFetch, so SQLite never maps the file and reads past xRead. */
static const sqlite3_io_methods v_methods = {
	2, v_close, v_read, v_write, v_truncate, v_sync, v_file_size, v_lock, v_unlock,
	v_check_reserved, v_file_control, v_sector_size, v_device_characteristics,
	v_shm_map, v_shm_lock, v_shm_barrier, v_shm_unmap, NULL, NULL,
};

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *pf, int flags, int *out_flags)
{
	struct vfile *f = (struct vfile *)pf;
	int rc;

	(void)vfs;
	/* journals, logs, temporary files: the default VFS's file itself */
	if (!(flags & SQLITE_OPEN_MAIN_DB) || !name)
		return base_vfs->xOpen(base_vfs, name, pf, flags, out_flags);
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	f->name = name;
	f->view = sqlite3_uri_boolean(name, "mbr_view", 0);
	rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc;	/* no methods: SQLite does not close it */
	if (f->real->pMethods->iVersion < 2) {
		f->real->pMethods->xClose(f->real);
		return SQLITE_CANTOPEN;
	}
	f->base.pMethods = &v_methods;
	return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return base_vfs->xDelete(base_vfs, name, sync);
}

static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *v_dl_open(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return base_vfs->xDlOpen(base_vfs, name);
}

static void v_dl_error(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	base_vfs->xDlError(base_vfs, n, msg);
}

static void (*v_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return base_vfs->xDlSym(base_vfs, h, sym);
}

static void v_dl_close(sqlite3_vfs *v, void *h)
{
	(void)v;
	base_vfs->xDlClose(base_vfs, h);
}

static int v_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return base_vfs->xRandomness(base_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return base_vfs->xSleep(base_vfs, us);
}

static int v_current_time(sqlite3_vfs *v, double *t)
{
	(void)v;
	return base_vfs->xCurrentTime(base_vfs, t);
}

static int v_get_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return base_vfs->xGetLastError(base_vfs, n, out);
}

static int v_current_time64(sqlite3_vfs *v, sqlite3_int64 *t)
{
	(void)v;
	return base_vfs->xCurrentTimeInt64(base_vfs, t);
}

static sqlite3_vfs v_vfs = {
	2, 0, 0, NULL, MBR_VFS, NULL, v_open, v_delete, v_access, v_full_pathname, v_dl_open, v_dl_error,
	v_dl_sym, v_dl_close, v_randomness, v_sleep, v_current_time, v_get_last_error,
	v_current_time64, NULL, NULL, NULL,
};

static int registered = -1;

static void reg(void)
{
	base_vfs = sqlite3_vfs_find(NULL);
	if (!base_vfs || base_vfs->iVersion < 2) {
		registered = 0;
		return;
	}
	v_vfs.szOsFile = (int)sizeof(struct vfile) + base_vfs->szOsFile;
	v_vfs.mxPathname = base_vfs->mxPathname;
	registered = sqlite3_vfs_register(&v_vfs, 0) == SQLITE_OK;
}

int mbr_view_register(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, reg);
	return registered ? 0 : -1;
}

void mbr_view_track(sqlite3 *sql)
{
	struct vfile *f = NULL;
	sqlite3_int64 size = 0;
	const char *path;
	int psz;

	if (__atomic_load_n(&tr.state, __ATOMIC_SEQ_CST) == 1)
		return;	/* one at a time: a view of another fails */
	if (sqlite3_file_control(sql, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
	    f->base.pMethods != &v_methods || !(path = sqlite3_db_filename(sql, "main")) ||
	    strlen(path) >= sizeof(tr.path) || f->real->pMethods->xFileSize(f->real, &size) != SQLITE_OK)
		return;
	if ((psz = (int)mbr_sqlite_int(sql, "PRAGMA page_size")) <= 0)
		return;
	free(tr.marks);	/* the last import's views are closed */
	tr.marks = calloc((size_t)(size / psz) + 1, 1);
	if (!tr.marks)
		return;
	tr.npages = size / psz;
	tr.page_size = psz;
	mbr_copy(tr.path, sizeof(tr.path), path);
	f->track = 1;
	__atomic_store_n(&tr.state, 1, __ATOMIC_SEQ_CST);
}

void mbr_view_end(sqlite3 *sql)
{
	struct vfile *f = NULL;

	if (sqlite3_file_control(sql, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
	    f->base.pMethods != &v_methods || !f->track)
		return;
	__atomic_store_n(&tr.state, 2, __ATOMIC_SEQ_CST);
	f->track = 0;
}
