/*
 * unionfs/hardlink.c: keeping hard links one file across copy-up.
 * (First version: nothing is linked yet; see ufs_hardlinks_copy_up.)
 */
#include "unionfs/unionfs.h"

int ufs_hardlinks_copy_up(struct ufs *ufs, struct ufs_node *node, int layer, const struct stat *st)
{
	(void)ufs;
	(void)node;
	(void)layer;
	(void)st;
	return 0;
}
