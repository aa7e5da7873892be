/*
 * images/digest.c: the OCI digests images need: sha256 of a metadata blob,
 * ChainIDs, the shape of a digest, and paths taken from an image's own
 * files (manifest.json's "Layers", index descriptors) that must stay
 * inside the archive or folder.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/error.h"
#include "images/images.h"

bool img_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static void hex_of(const unsigned char *md, unsigned len, char out[IMG_DIGEST_LEN])
{
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

void img_sha256(const void *data, size_t len, char out[IMG_DIGEST_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	hex_of(md, n, out);
}

void img_chain_ids(char *const *diff_ids, size_t n, char (*chain)[IMG_DIGEST_LEN])
{
	for (size_t i = 0; i < n; i++) {
		char buf[2 * IMG_DIGEST_LEN + 2];
		if (i == 0) {
			snprintf(chain[0], IMG_DIGEST_LEN, "%s", diff_ids[0]);
			continue;
		}
		int len = snprintf(buf, sizeof(buf), "%s %s", chain[i - 1], diff_ids[i]);
		img_sha256(buf, (size_t)len, chain[i]);
	}
}

int img_path_check(const char *what, const char *name, struct lm_error *err)
{
	char shown[128];
	const char *p = name;

	if (!*name || *name == '/')
		return lm_err_plain(err, -EINVAL, "%s: path '%s' points out of the archive", what,
				    lm_err_name(name, shown, sizeof(shown)));
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return lm_err_plain(err, -EINVAL, "%s: path '%s' points out of the archive", what,
					    lm_err_name(name, shown, sizeof(shown)));
		p += len;
		p += *p == '/';
	}
	return 0;
}
