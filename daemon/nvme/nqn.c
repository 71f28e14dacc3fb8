/* SPDX-License-Identifier: BSD-3-Clause */
/* NVMe Qualified Name validation (Base 2.0 §4.5). */
#include "nvme_spec.h"

#include <stdbool.h>
#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Strict UTF-8: no overlong forms, surrogates or values above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* "yyyy-mm." right after "nqn.". */
static bool date_valid(const char *p)
{
	if (!is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]) || !is_digit(p[3]) ||
	    p[4] != '-' || !is_digit(p[5]) || !is_digit(p[6]) || p[7] != '.')
		return false;
	int month = (p[5] - '0') * 10 + (p[6] - '0');
	return month >= 1 && month <= 12;
}

/* Reverse domain name: dot-separated labels of letters, digits and hyphens,
 * each starting with a letter and not ending with a hyphen. */
static bool domain_valid(const char *p, size_t len)
{
	size_t label = 0;
	if (len == 0)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? p[i] : '.';
		if (c == '.') {
			if (label == 0 || p[i - 1] == '-')
				return false;
			label = 0;
		} else if (label == 0 ? is_alpha(c) : (is_alpha(c) || is_digit(c) || c == '-')) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

static bool uuid_valid(const char *p, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? p[i] != '-' : !is_hex(p[i]))
			return false;
	}
	return true;
}

bool nvme_nqn_valid(const char *nqn, size_t size)
{
	static const char uuid_prefix[] = "nqn.2014-08.org.nvmexpress:uuid:";
	size_t len = strnlen(nqn, size);

	if (len == size || len > NVME_NQN_MAX_LEN || len < 12 || strncmp(nqn, "nqn.", 4) != 0)
		return false;
	if (!utf8_valid((const unsigned char *)nqn, len))
		return false;
	if (strncmp(nqn, uuid_prefix, sizeof(uuid_prefix) - 1) == 0)
		return uuid_valid(nqn + sizeof(uuid_prefix) - 1, len - (sizeof(uuid_prefix) - 1));
	if (!date_valid(nqn + 4))
		return false;
	const char *dom = nqn + 12;
	const char *colon = memchr(dom, ':', len - 12);
	size_t dom_len = colon ? (size_t)(colon - dom) : len - 12;
	if (!domain_valid(dom, dom_len))
		return false;
	return !colon || (size_t)(colon - nqn) + 1 < len;	/* a non-empty name after ':' */
}
