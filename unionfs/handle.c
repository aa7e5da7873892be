/*
 * unionfs/handle.c: the list of open file and directory handles. The kernel
 * does not always send release for handles still open when the file system
 * goes away (a lazy unmount, an aborted connection), so whatever is left is
 * freed when the union is closed.
 */
#include "unionfs/unionfs.h"

void ufs_handle_track(struct ufs *ufs, struct ufs_handle *h, void (*free_fn)(struct ufs *, struct ufs_handle *))
{
	h->free_fn = free_fn;
	pthread_mutex_lock(&ufs->handles_lock);
	h->prev = &ufs->handles;
	h->next = ufs->handles.next;
	ufs->handles.next->prev = h;
	ufs->handles.next = h;
	pthread_mutex_unlock(&ufs->handles_lock);
}

void ufs_handle_untrack(struct ufs *ufs, struct ufs_handle *h)
{
	pthread_mutex_lock(&ufs->handles_lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	h->next = h->prev = h;
	pthread_mutex_unlock(&ufs->handles_lock);
}

void ufs_handles_init(struct ufs *ufs)
{
	pthread_mutex_init(&ufs->handles_lock, NULL);
	ufs->handles.next = ufs->handles.prev = &ufs->handles;
}

void ufs_handles_free_all(struct ufs *ufs)
{
	while (ufs->handles.next != &ufs->handles) {
		struct ufs_handle *h = ufs->handles.next;
		ufs_handle_untrack(ufs, h);
		h->free_fn(ufs, h);
	}
	pthread_mutex_destroy(&ufs->handles_lock);
}
