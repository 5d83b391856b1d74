// A DIDAuth presenter following the Learner Credential Wallet's published
// exchange code (openwallet-foundation-labs/learner-credential-wallet:
// app/lib/credentialRequest.ts, present.ts, exchanges.ts), built on Digital
// Bazaar's vc library with a fresh did:key:
//   direct: the request link's auth_type must be bearer; the wallet signs a
//     presentation (Ed25519Signature2020, VC 1.1, as LCW does) with the
//     link's challenge and POSTs it to vc_request_url, receiving the VC;
//   vcapi: POST {} to the exchange, read the DIDAuthentication request
//     (challenge and domain both required, as LCW requires), sign
//     (eddsa-rdfc-2022 with an Ed25519 Multikey) and POST
//     {"verifiablePresentation": …}, receiving a presentation holding the VC.
// Each then replays its presentation, which must be refused.
//
// Usage: node lcw.mjs input.json
//   input: {"direct": "https://lcw.app/request.html?…"} or {"vcapi": URL}
// Prints {"holder", "credential", "status", "replayStatus"}.
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {Ed25519VerificationKey2020} from '@digitalbazaar/ed25519-verification-key-2020';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {contexts as vcContexts} from '@digitalbazaar/credentials-context';
import {contexts as ed2020Contexts} from 'ed25519-signature-2020-context';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const contexts = new Map([...vcContexts, ...ed2020Contexts]);
function documentLoader(url) {
  if(contexts.has(url)) return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  throw new Error(`offline loader: ${url} is not loaded`);
}

async function post(url, body) {
  const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  return {status: r.status, body: await r.json().catch(() => null)};
}

const out = {};
if(input.direct) {
  // credentialRequest.ts: the deep link's parameters.
  const params = Object.fromEntries(new URL(input.direct).searchParams);
  if((params.auth_type ?? 'code') !== 'bearer') throw new Error(`Unsupported auth_type value: "${params.auth_type}".`);
  const key = await Ed25519VerificationKey2020.generate();
  const did = 'did:key:' + key.fingerprint();
  key.id = did + '#' + key.fingerprint();
  key.controller = did;
  const presentation = vc.createPresentation({holder: did, version: 1.0});
  const signed = await vc.signPresentation({presentation, suite: new Ed25519Signature2020({key}),
    challenge: params.challenge, documentLoader});
  const r = await post(params.vc_request_url, signed);
  out.holder = did;
  out.status = r.status;
  out.credential = r.body;
  out.replayStatus = (await post(params.vc_request_url, signed)).status;
} else {
  // exchanges.ts: start the exchange, answer its DIDAuthentication query.
  const start = await post(input.vcapi, {});
  const vpr = start.body?.verifiablePresentationRequest;
  if(!vpr || !vpr.query?.some(q => q.type === 'DIDAuthentication') || !vpr.challenge || !vpr.domain) {
    throw new Error('not a DIDAuthentication request with challenge and domain: ' + JSON.stringify(start.body));
  }
  const key = await Ed25519Multikey.generate();
  const did = 'did:key:' + key.publicKeyMultibase;
  key.id = did + '#' + key.publicKeyMultibase;
  key.controller = did;
  const presentation = vc.createPresentation({holder: did});
  const signed = await vc.signPresentation({presentation,
    suite: new DataIntegrityProof({signer: key.signer(), cryptosuite: eddsaRdfc2022}),
    challenge: vpr.challenge, domain: vpr.domain, documentLoader});
  const r = await post(input.vcapi, {verifiablePresentation: signed});
  out.holder = did;
  out.status = r.status;
  out.credential = r.body?.verifiablePresentation?.verifiableCredential?.[0] ?? r.body;
  out.replayStatus = (await post(input.vcapi, {verifiablePresentation: signed})).status;
}
console.log(JSON.stringify(out));
