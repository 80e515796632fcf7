/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Streaming AES-128-CBC decryption with PKCS#7 padding, on nettle.
 *
 * Threads: none of its own; a decryptor belongs to one caller (the streaming
 * thread decrypting one segment) and takes no lock.
 *
 * Ciphertext arrives in chunks of any size. The decryptor keeps the bytes that
 * do not yet make a whole block, and always holds back the last whole block
 * seen: only at the end of the segment do we know that it is the one carrying
 * the padding.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-aes.h"

#include <string.h>
#include <nettle/aes.h>
#include <nettle/cbc.h>

#define BLOCK AES_BLOCK_SIZE

G_STATIC_ASSERT (AES_BLOCK_SIZE == 16);

G_DEFINE_QUARK (mesh_aes_error_quark, mesh_aes_error);

struct _MeshAesDecryptor
{
  struct aes128_ctx ctx;
  guint8 iv[BLOCK];             /* chaining value, advanced by cbc_decrypt */
  guint8 pending[BLOCK];        /* partial block, or the held-back block */
  gsize pending_len;            /* 0..BLOCK */
};

MeshAesDecryptor *
mesh_aes_decryptor_new (const guint8 key[16], const guint8 iv[16])
{
  MeshAesDecryptor *dec;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (iv != NULL, NULL);

  dec = g_new0 (MeshAesDecryptor, 1);
  aes128_set_decrypt_key (&dec->ctx, key);
  memcpy (dec->iv, iv, BLOCK);
  return dec;
}

static void
decrypt_blocks (MeshAesDecryptor * dec, guint8 * dst, const guint8 * src,
    gsize len)
{
  g_assert (len % BLOCK == 0);
  if (len > 0)
    cbc_decrypt (&dec->ctx, (nettle_cipher_func *) aes128_decrypt, BLOCK,
        dec->iv, len, dst, src);
}

/* How many of @total buffered + incoming bytes can be decrypted now: every
 * whole block, except that the last whole block stays behind when nothing
 * follows it. */
static gsize
decryptable_length (gsize total)
{
  gsize keep = total % BLOCK;

  if (keep == 0 && total > 0)
    keep = BLOCK;
  return total - keep;
}

GBytes *
mesh_aes_decryptor_push (MeshAesDecryptor * dec, GBytes * ciphertext)
{
  const guint8 *src;
  gsize src_len, out_len, used = 0, done = 0;
  guint8 *out;

  g_return_val_if_fail (dec != NULL, NULL);
  g_return_val_if_fail (ciphertext != NULL, NULL);

  src = g_bytes_get_data (ciphertext, &src_len);
  if (src_len == 0)
    return g_bytes_new (NULL, 0);

  out_len = decryptable_length (dec->pending_len + src_len);
  out = g_malloc (MAX (out_len, 1));

  if (out_len > 0 && dec->pending_len > 0) {
    /* complete the buffered block from the head of the input first */
    used = BLOCK - dec->pending_len;
    memcpy (dec->pending + dec->pending_len, src, used);
    decrypt_blocks (dec, out, dec->pending, BLOCK);
    dec->pending_len = 0;
    done = BLOCK;
  }

  decrypt_blocks (dec, out + done, src + used, out_len - done);
  used += out_len - done;

  g_assert (dec->pending_len + (src_len - used) <= BLOCK);
  memcpy (dec->pending + dec->pending_len, src + used, src_len - used);
  dec->pending_len += src_len - used;

  return g_bytes_new_take (out, out_len);
}

GBytes *
mesh_aes_decryptor_finish (MeshAesDecryptor * dec, GError ** error)
{
  guint8 last[BLOCK];
  guint pad, i;

  g_return_val_if_fail (dec != NULL, NULL);

  if (dec->pending_len != BLOCK) {
    g_set_error (error, MESH_AES_ERROR, MESH_AES_ERROR_LENGTH,
        "AES-128 ciphertext length is not a positive multiple of %d bytes "
        "(%" G_GSIZE_FORMAT " trailing bytes)", BLOCK, dec->pending_len);
    return NULL;
  }

  decrypt_blocks (dec, last, dec->pending, BLOCK);
  dec->pending_len = 0;

  pad = last[BLOCK - 1];
  if (pad < 1 || pad > BLOCK)
    goto bad_padding;
  for (i = BLOCK - pad; i < BLOCK; i++)
    if (last[i] != pad)
      goto bad_padding;

  return g_bytes_new (last, BLOCK - pad);

bad_padding:
  g_set_error_literal (error, MESH_AES_ERROR, MESH_AES_ERROR_PADDING,
      "Invalid PKCS#7 padding after AES-128 decryption (wrong key or IV?)");
  return NULL;
}

void
mesh_aes_decryptor_free (MeshAesDecryptor * dec)
{
  if (dec == NULL)
    return;
  /* the key schedule is secret material: do not leave it in freed memory */
  memset (dec, 0, sizeof (*dec));
  g_free (dec);
}

void
mesh_aes_iv_from_sequence (guint64 sequence, guint8 iv[16])
{
  gint i;

  g_return_if_fail (iv != NULL);

  memset (iv, 0, 8);
  for (i = 15; i >= 8; i--) {
    iv[i] = sequence & 0xff;
    sequence >>= 8;
  }
}
