// An OpenID4VCI 1.0 wallet built on @openid4vc/openid4vci (independent of
// Laurel): it takes a credential offer link, gets an access token with the
// pre-authorized code (and transaction code), proves possession of a fresh
// did:key (Ed25519, @digitalbazaar/ed25519-multikey) and receives the
// credential in each configuration the offer names, one token each.
//
// Usage: node oid4vci.mjs input.json
//   input: {"offer": "openid-credential-offer://…", "txCode": "123456",
//           "refusals": true}
// With refusals, it also tries what a wallet must not get away with and
// reports the error code of each refusal: a wrong transaction code, a
// replayed offer, a proof without nonce, a replayed (stale) nonce and a proof
// signed by another key than the one it names.
// It prints one JSON object.
import {readFileSync} from 'node:fs';
import {createHash, randomBytes} from 'node:crypto';
import {Openid4vciClient} from '@openid4vc/openid4vci';
import {setGlobalConfig, clientAuthenticationAnonymous} from '@openid4vc/oauth2';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// The test server is plain http on localhost.
setGlobalConfig({allowInsecureUrls: true});

const b64u = b => Buffer.from(b).toString('base64url');

async function newDidKey() {
  const key = await Ed25519Multikey.generate();
  const did = 'did:key:' + key.publicKeyMultibase;
  return {key, did, didUrl: did + '#' + key.publicKeyMultibase};
}

const holder = await newDidKey();
const other = await newDidKey();

// signWith signs a JWT with key, whatever the header names.
async function signWith(key, header, payload) {
  const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(payload));
  const sig = await key.signer().sign({data: new TextEncoder().encode(input)});
  return input + '.' + b64u(sig);
}

let signingKey = holder.key;
const callbacks = {
  fetch,
  hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  generateRandom: n => randomBytes(n),
  clientAuthentication: clientAuthenticationAnonymous(),
  signJwt: async (signer, {header, payload}) => {
    const jwt = await signWith(signingKey, header, payload);
    return {jwt, signerJwk: await Ed25519Multikey.toJwk({keyPair: signingKey})};
  },
};
const client = new Openid4vciClient({callbacks});

// errorCode is the OAuth error code of a refusal: the client's error
// object, or the error response it quotes in its message.
function errorCode(e) {
  const code = e?.errorResponse?.error ?? e?.response?.error;
  if(code) return code;
  const m = /"error":\s*"([^"]+)"/.exec(e?.message ?? '');
  return m ? m[1] : (e?.message ?? String(e));
}

const out = {holder: holder.did, credentials: {}, refusals: {}};
const credentialOffer = await client.resolveCredentialOffer(input.offer);
const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
out.configurations = credentialOffer.credential_configuration_ids;

async function token(txCode) {
  const {accessTokenResponse} = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer, issuerMetadata, txCode});
  return accessTokenResponse.access_token;
}

async function proof(configId, nonce) {
  const {jwt} = await client.createCredentialRequestJwtProof({
    issuerMetadata, credentialConfigurationId: configId, nonce,
    signer: {method: 'did', didUrl: holder.didUrl, alg: 'EdDSA'}});
  return jwt;
}

async function request(accessToken, configId, jwt) {
  const r = await client.retrieveCredentials({issuerMetadata, accessToken, credentialConfigurationId: configId,
    proofs: {jwt: [jwt]}});
  return r.credentialResponse.credentials[0].credential;
}

if(input.refusals && input.txCode) {
  try {
    await token(input.txCode === '000000' ? '111111' : '000000');
    out.refusals.wrongTxCode = 'accepted';
  } catch(e) { out.refusals.wrongTxCode = errorCode(e); }
}

let lastNonce;
for(const configId of credentialOffer.credential_configuration_ids) {
  const accessToken = await token(input.txCode);
  if(input.refusals && !out.refusals.missingNonce) {
    try {
      await request(accessToken, configId, await proof(configId, undefined));
      out.refusals.missingNonce = 'accepted';
    } catch(e) { out.refusals.missingNonce = errorCode(e); }
    try {
      const {c_nonce} = await client.requestNonce({issuerMetadata});
      signingKey = other.key; // names holder's key, signed by another
      const jwt = await proof(configId, c_nonce);
      signingKey = holder.key;
      await request(accessToken, configId, jwt);
      out.refusals.otherKey = 'accepted';
    } catch(e) { out.refusals.otherKey = errorCode(e); signingKey = holder.key; }
  }
  if(input.refusals && lastNonce) {
    try {
      await request(accessToken, configId, await proof(configId, lastNonce));
      out.refusals.staleNonce = 'accepted';
    } catch(e) { out.refusals.staleNonce = errorCode(e); }
  }
  const {c_nonce} = await client.requestNonce({issuerMetadata});
  lastNonce = c_nonce;
  out.credentials[configId] = await request(accessToken, configId, await proof(configId, c_nonce));
}

if(input.refusals) {
  try {
    await token(input.txCode);
    out.refusals.replayedOffer = 'accepted';
  } catch(e) { out.refusals.replayedOffer = errorCode(e); }
}
console.log(JSON.stringify(out));
