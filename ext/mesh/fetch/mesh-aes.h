/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Streaming AES-128-CBC decryption with PKCS#7 padding (HLS METHOD=AES-128),
 * on nettle. One decryptor per segment; not thread-safe (one owner).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MESH_AES_ERROR (mesh_aes_error_quark ())
GQuark mesh_aes_error_quark (void);

typedef enum {
  MESH_AES_ERROR_LENGTH,        /* ciphertext not a multiple of 16 bytes */
  MESH_AES_ERROR_PADDING,       /* invalid PKCS#7 padding (wrong key?) */
} MeshAesError;

typedef struct _MeshAesDecryptor MeshAesDecryptor;

MeshAesDecryptor *mesh_aes_decryptor_new (const guint8 key[16],
    const guint8 iv[16]);

/* Feeds ciphertext; returns the plaintext that is final, i.e. all complete
 * blocks except the last one seen, which may hold the padding. May return an
 * empty GBytes, never NULL. */
GBytes *mesh_aes_decryptor_push (MeshAesDecryptor * dec, GBytes * ciphertext);

/* End of the segment: decrypts the held-back block, strips the padding and
 * returns the last plaintext (possibly empty), or NULL with @error set. */
GBytes *mesh_aes_decryptor_finish (MeshAesDecryptor * dec, GError ** error);

void mesh_aes_decryptor_free (MeshAesDecryptor * dec);

/* The IV that RFC 8216 5.2 derives from a media sequence number. */
void mesh_aes_iv_from_sequence (guint64 sequence, guint8 iv[16]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshAesDecryptor, mesh_aes_decryptor_free);

G_END_DECLS
