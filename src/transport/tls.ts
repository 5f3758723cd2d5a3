// HTTPS and WSS: the certificate and key files read and checked at start-up, before anything listens, so that a
// file that cannot be read, a wrong passphrase or a key of another certificate is told in words (uWebSockets.js
// says only "App construction failed", and Deno takes no passphrase at all).
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'

export interface Tls {
  /** What uWebSockets.js reads itself: the files, and the key's passphrase if it is encrypted. */
  certFile: string
  keyFile: string
  passphrase?: string
  /** What Deno.serve takes: the certificate chain's PEM text, and the key's, decrypted. */
  cert: string
  key: string
}

export interface TlsFiles {
  certFile: string
  keyFile: string
  passphrase?: string
}

function readPem(path: string, setting: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new Error(`cannot read ${setting} ${path}: ${(e as Error).message}`)
  }
}

/** The files checked: a certificate, a private key (decrypted with the passphrase), and the key the certificate's. */
export function loadTls({ certFile, keyFile, passphrase }: TlsFiles): Tls {
  const cert = readPem(certFile, 'TLS_CERT_FILE')
  const keyText = readPem(keyFile, 'TLS_KEY_FILE')
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(cert)
  } catch (e) {
    throw new Error(`TLS_CERT_FILE ${certFile} holds no PEM certificate: ${(e as Error).message}`)
  }
  let key: KeyObject
  try {
    key = createPrivateKey({ key: keyText, passphrase })
  } catch (e) {
    const why = passphrase === undefined ? 'not a PEM private key, or an encrypted one without TLS_KEY_PASSPHRASE' : 'not a PEM private key, or TLS_KEY_PASSPHRASE is wrong'
    throw new Error(`TLS_KEY_FILE ${keyFile} cannot be read: ${why} (${(e as Error).message})`)
  }
  if (!certificate.checkPrivateKey(key)) throw new Error(`TLS_KEY_FILE ${keyFile} is not the key of the certificate in TLS_CERT_FILE ${certFile}`)
  return { certFile, keyFile, passphrase, cert, key: key.export({ type: 'pkcs8', format: 'pem' }) as string }
}
