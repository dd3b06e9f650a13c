// IBAN and BIC checked as you type (imports.md §8); the server checks again with schwifty, and decides.
// Same rules and words as the server: mod-97, length of the country, SEPA zone; BIC shape, location, branch.
const SEPA = "AD AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL PT RO SE SI SK SM VA".split(" ");
const BIC_SEPA = SEPA.concat("GF GP MQ RE YT PM BL MF GG JE IM".split(" "));
const LENGTHS = {AD: 24, AT: 20, BE: 16, BG: 22, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20, ES: 24, FI: 18,
  FR: 27, GB: 22, GI: 23, GR: 27, HR: 21, HU: 28, IE: 22, IS: 26, IT: 27, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27,
  MT: 31, NL: 18, NO: 15, PL: 28, PT: 25, RO: 24, SE: 24, SI: 19, SK: 24, SM: 27, VA: 22};
const MESSAGES = {
  "iban.country": "Les deux premières lettres de l'IBAN ne sont pas un code pays : vérifiez-les.",
  "iban.sepa": "Ce compte est hors de la zone SEPA : l'ASP ne peut pas y payer. Demandez un autre compte.",
  "iban.length": "L'IBAN n'a pas la longueur prévue pour son pays : vérifiez qu'il est complet.",
  "iban.checksum": "La clé de contrôle de l'IBAN est fausse : une erreur de frappe ? Vérifiez l'IBAN sur le RIB.",
  "bic.format": "Le BIC compte 8 ou 11 lettres et chiffres (par exemple AGRIFRPP) : vérifiez-le sur le RIB.",
  "bic.location": "Les caractères 7 et 8 du BIC sont invalides : vérifiez-le sur le RIB.",
  "bic.branch": "Un code agence qui commence par X doit être XXX : vérifiez le BIC.",
  "bic.sepa": "La banque est hors de la zone SEPA : l'ASP refuserait le paiement. Demandez un autre compte.",
};

const normalise = (text) => text.replace(/\s+/g, "").toUpperCase();

function mod97(iban) {
  const digits = (iban.slice(4) + iban.slice(0, 4)).replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let rest = 0;
  for (const d of digits) rest = (rest * 10 + Number(d)) % 97;
  return rest;
}

// A code, or null when valid; `final`: the user left the field (a short IBAN is then an error too).
function checkIban(text, final) {
  const iban = normalise(text);
  if (!iban) return null;
  if (!/^[A-Z]{2}/.test(iban)) return iban.length >= 2 ? "iban.country" : null;
  const country = iban.slice(0, 2);
  if (!(country in LENGTHS)) return "iban.sepa";
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]*$/.test(iban)) return "iban.checksum";
  if (iban.length < LENGTHS[country]) return final ? "iban.length" : null;
  if (iban.length > LENGTHS[country]) return "iban.length";
  return mod97(iban) === 1 ? null : "iban.checksum";
}

function checkBic(text, final) {
  const bic = normalise(text);
  if (!bic || (!final && bic.length < 8)) return null;
  if (!/^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(bic)) return final || bic.length > 11 ? "bic.format" : null;
  if ("01".includes(bic[6]) || bic[7] === "O") return "bic.location";
  if (bic.length === 11 && bic[8] === "X" && bic.slice(8) !== "XXX") return "bic.branch";
  return BIC_SEPA.includes(bic.slice(4, 6)) ? null : "bic.sepa";
}

function show(group, code) {
  const message = group.querySelector(".fr-error-text");
  group.classList.toggle("fr-input-group--error", code !== null);
  message.textContent = code === null ? "" : MESSAGES[code];
  message.classList.toggle("fr-hidden", code === null);
}

for (const group of document.querySelectorAll("[data-rib-check]")) {
  const check = group.dataset.ribCheck === "iban" ? checkIban : checkBic;
  const input = group.querySelector("input");
  input.addEventListener("input", () => show(group, check(input.value, false)));
  input.addEventListener("blur", () => show(group, check(input.value, true)));
}
