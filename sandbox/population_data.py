"""Word lists the synthetic population is drawn from: common names, streets, employers.

The streets carry the residents' parking zone they lie in, so Melderegister addresses and
Geodaten agree. Zones are keyed by street and postcode: the Aachener Straße runs through
the Belgisches Viertel (50674, a zone) and through Weiden (50859, none). Generated residents
live in Köln; Bergheim and Neuenhaus streets are there for the personas of those tenants.
"""

from __future__ import annotations

FEMALE_NAMES: tuple[str, ...] = (
    *("Anna", "Maria", "Ursula", "Monika", "Petra", "Sabine", "Andrea", "Claudia", "Susanne"),
    *("Stefanie", "Nicole", "Julia", "Katharina", "Laura", "Lena", "Lea", "Hannah", "Emma"),
    *("Mia", "Sophie", "Marie", "Lina", "Emilia", "Clara", "Johanna", "Sarah", "Lisa"),
    *("Christina", "Elisabeth", "Gisela", "Renate", "Helga", "Ingrid", "Karin", "Brigitte"),
    *("Birgit", "Heike", "Silke", "Tanja", "Melanie", "Jessica", "Vanessa", "Jana", "Nina"),
    *("Franziska", "Charlotte", "Greta", "Frieda", "Ayşe", "Elif", "Zeynep", "Fatma"),
    *("Agnieszka", "Katarzyna", "Olena", "Anastasia", "Giulia", "Sofia", "Yasmin", "Amira"),
    *("Leonie", "Paula", "Ida", "Mathilda", "Martina", "Gabriele", "Jutta", "Anja"),
)

MALE_NAMES: tuple[str, ...] = (
    *("Peter", "Michael", "Thomas", "Andreas", "Wolfgang", "Klaus", "Jürgen", "Stefan"),
    *("Frank", "Uwe", "Dieter", "Hans", "Werner", "Günter", "Ralf", "Markus", "Christian"),
    *("Oliver", "Sebastian", "Daniel", "Tobias", "Jan", "Tim", "Lukas", "Felix", "Jonas"),
    *("Leon", "Paul", "Elias", "Noah", "Ben", "Finn", "Luca", "Max", "Moritz", "Niklas"),
    *("Philipp", "Alexander", "Matthias", "Florian", "Johannes", "David", "Simon", "Fabian"),
    *("Kevin", "Dennis", "Marco", "Mehmet", "Mustafa", "Ahmet", "Emre", "Can", "Piotr"),
    *("Tomasz", "Andrij", "Dmitri", "Giuseppe", "Omar", "Karim", "Yusuf", "Emil", "Anton"),
    *("Theo", "Jakob", "Henrik", "Rainer", "Bernd", "Holger", "Torsten", "Sven"),
)

FAMILY_NAMES: tuple[str, ...] = (
    *("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"),
    *("Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf"),
    *("Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann"),
    *("Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann"),
    *("Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer"),
    *("Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung"),
    *("Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger"),
    *("Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster"),
    *("Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer"),
    *("Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt"),
    *("Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn", "Pohl"),
    *("Engel", "Horn", "Busch", "Bergmann", "Voigt", "Sauer", "Arnold", "Pfeiffer"),
    *("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Öztürk", "Kowalski", "Nowak"),
    *("Wiśniewski", "Kowalczyk", "Nguyen", "Popescu", "Rossi", "Russo", "Esposito"),
    *("Papadopoulos", "Ivanov", "Kovalenko", "Haddad"),
)

GERMAN_BIRTHPLACES: tuple[str, ...] = (
    *("Köln",) * 12,
    *("Bonn", "Düsseldorf", "Leverkusen", "Bergisch Gladbach", "Aachen", "Essen"),
    *("Dortmund", "Duisburg", "Wuppertal", "Bochum", "Berlin", "Hamburg", "München"),
    *("Frankfurt am Main", "Stuttgart", "Leipzig", "Dresden", "Hannover", "Bremen"),
    *("Münster", "Koblenz", "Trier", "Siegen"),
)

FOREIGN_ORIGINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("türkisch", ("İstanbul", "Ankara", "İzmir")),
    ("polnisch", ("Warszawa", "Kraków", "Wrocław")),
    ("italienisch", ("Napoli", "Palermo", "Bari")),
    ("syrisch", ("Damaskus", "Aleppo")),
    ("rumänisch", ("București", "Cluj-Napoca")),
    ("griechisch", ("Thessaloniki", "Athen")),
    ("ukrainisch", ("Kyjiw", "Charkiw")),
)

ZONES: dict[str, str] = {
    "K-03": "Agnesviertel",
    "K-07": "Severinsviertel",
    "K-12": "Belgisches Viertel",
    "K-18": "Sülz",
    "K-21": "Ehrenfeld",
    # The sandbox's own zone for Bergheim's old town, not a copy of the city's real zone plan.
    "BM-1": "Innenstadt Bergheim",
}
"""Residents' parking zones (Bewohnerparkgebiete, § 45 Abs. 1b Nr. 2a StVO) by code."""

KOELN_ARS = "053150000000"
BERGHEIM_ARS = "053620008008"
# Stadt Neuenhaus is AGS 03456014 (not 03456012, which is Laar in the Samtgemeinde Emlichheim)
# and a member of the Samtgemeinde Neuenhaus, Verbandsschlüssel 03 4 56 5402; its ARS is
# therefore 03 4 56 5402 014. Sources: Wikipedia "Neuenhaus" and "Samtgemeinde Neuenhaus"
# infoboxes, and the Statistische Ämter's "Anschriften der Gemeinde- und Stadtverwaltungen",
# which lists 03456004, -005, -013, -014 and -017 as the Samtgemeinde's members.
NEUENHAUS_ARS = "034565402014"

MUNICIPALITIES: dict[str, str] = {
    KOELN_ARS: "Köln",
    BERGHEIM_ARS: "Bergheim",
    NEUENHAUS_ARS: "Neuenhaus",
}
"""The municipalities the sandbox has residents in, by Amtlicher Regionalschlüssel (ARS)."""

REGISTER_OFFICES: dict[str, dict[str, str]] = {
    KOELN_ARS: {
        "melderegister": "Stadt Köln – Meldebehörde",
        "geodaten": "Stadt Köln – Amt für Liegenschaften, Vermessung und Kataster",
        "kfz": "Stadt Köln – Straßenverkehrsamt, Zulassungsstelle",
    },
    # In NRW a kreisangehörige Stadt keeps its own Melderegister; vehicles are registered by
    # the Kreis (Rhein-Erft-Kreis), the zone plan is the town's as Straßenverkehrsbehörde.
    BERGHEIM_ARS: {
        "melderegister": "Stadt Bergheim – Meldebehörde",
        "geodaten": "Stadt Bergheim – Straßenverkehrsbehörde, Zonenplan Bewohnerparken",
        "kfz": "Rhein-Erft-Kreis – Straßenverkehrsamt, Zulassungsstelle",
    },
    # In Lower Saxony the Samtgemeinde is the Meldebehörde of its member towns (§ 98 NKomVG).
    NEUENHAUS_ARS: {
        "melderegister": "Samtgemeinde Neuenhaus – Meldebehörde",
        "geodaten": "Landkreis Grafschaft Bentheim – Vermessung und Geoinformation",
        "kfz": "Landkreis Grafschaft Bentheim – Straßenverkehrsamt, Zulassungsstelle",
    },
}
"""Which office keeps each register for the residents of a municipality: a Bergheim
resident's data must not cite Köln's Meldebehörde as its source."""

POSTCODE_RANGES: tuple[tuple[str, str, str], ...] = (
    # (first postcode, last postcode, ARS); every postcode from 50667 to 51149 is Köln's.
    ("50667", "51149", KOELN_ARS),
    ("50126", "50127", BERGHEIM_ARS),
    ("50129", "50129", BERGHEIM_ARS),
    ("49828", "49828", NEUENHAUS_ARS),
)
"""The one place the sandbox maps a postcode to the municipality (ARS) it lies in."""

Street = tuple[str, str, str | None, int]
"""(street, postcode, zone code or None, highest house number)"""

STREETS: tuple[Street, ...] = (
    ("Brüsseler Straße", "50674", "K-12", 120),
    ("Lütticher Straße", "50674", "K-12", 70),
    ("Moltkestraße", "50674", "K-12", 140),
    ("Antwerpener Straße", "50672", "K-12", 60),
    ("Maastrichter Straße", "50672", "K-12", 50),
    ("Aachener Straße", "50674", "K-12", 80),
    ("Severinstraße", "50678", "K-07", 240),
    ("Merowingerstraße", "50677", "K-07", 90),
    ("Alteburger Straße", "50678", "K-07", 160),
    ("Elsaßstraße", "50677", "K-07", 60),
    ("Neusser Straße", "50670", "K-03", 110),
    ("Weißenburgstraße", "50670", "K-03", 80),
    ("Balthasarstraße", "50670", "K-03", 70),
    ("Zülpicher Straße", "50937", "K-18", 300),
    ("Berrenrather Straße", "50937", "K-18", 400),
    ("Weißhausstraße", "50939", "K-18", 40),
    ("Luxemburger Straße", "50939", "K-18", 330),
    ("Körnerstraße", "50823", "K-21", 110),
    ("Venloer Straße", "50823", "K-21", 600),
    ("Subbelrather Straße", "50823", "K-21", 480),
    ("Gutenbergstraße", "50823", "K-21", 130),
    ("Heidestraße", "51147", None, 60),
    ("Kapellenstraße", "50997", None, 40),
    ("Bonner Straße", "50968", None, 300),
    ("Aachener Straße", "50859", None, 1300),
    ("Hauptstraße", "51143", None, 150),
    ("Frankfurter Straße", "51065", None, 700),
    ("Bergisch Gladbacher Straße", "51065", None, 1100),
    ("Kalker Hauptstraße", "51103", None, 300),
    ("Longericher Straße", "50739", None, 560),
    ("Hauptstraße", "50996", None, 110),
    ("Neusser Straße", "50733", None, 520),
    ("Dürener Straße", "50931", None, 480),
    ("Olpener Straße", "51109", None, 1000),
    ("Rather Straße", "51107", None, 140),
    ("Militärringstraße", "50996", None, 80),
    ("Roggendorfer Straße", "50769", None, 90),
    ("Frankfurter Straße", "51147", None, 300),
)
"""Köln streets, the only ones the generated population is drawn onto."""

BERGHEIM_STREETS: tuple[Street, ...] = (
    ("Hauptstraße", "50126", "BM-1", 110),
    ("Schützenstraße", "50126", "BM-1", 40),
    ("Bethlehemer Straße", "50126", "BM-1", 60),
    ("Robert-Koch-Straße", "50127", None, 40),  # Quadrath-Ichendorf
)

NEUENHAUS_STREETS: tuple[Street, ...] = (
    ("Hauptstraße", "49828", None, 80),
    ("Uelsener Straße", "49828", None, 90),
    ("Veldhausener Straße", "49828", None, 120),
)

MAPPED_STREETS: tuple[Street, ...] = STREETS + BERGHEIM_STREETS + NEUENHAUS_STREETS
"""Every street the sandbox's Geodaten know, with the parking zone it lies in."""

PREVIOUS_TOWNS: tuple[tuple[str, str, str], ...] = (
    ("Bahnhofstraße", "53111", "Bonn"),
    ("Kölner Straße", "40211", "Düsseldorf"),
    ("Pontstraße", "52062", "Aachen"),
    ("Hauptstraße", "51465", "Bergisch Gladbach"),
    ("Friedrich-Ebert-Straße", "51373", "Leverkusen"),
    ("Königstraße", "44135", "Dortmund"),
)

EMPLOYERS: tuple[str, ...] = (
    *("Ford-Werke GmbH", "REWE Group", "Stadtwerke Köln GmbH", "AXA Konzern AG"),
    *("Stadt Köln", "Uniklinik Köln", "Kölner Verkehrs-Betriebe AG", "Deutz AG"),
    *("Lanxess AG", "Sparkasse KölnBonn", "TÜV Rheinland AG", "DEVK Versicherungen"),
    *("Westdeutscher Rundfunk Köln", "Bäckerei Schmitz & Söhne GmbH"),
    *("Pflegedienst Rheinblick GmbH", "Elektro Lindner GmbH", "Kita Sonnenschein gGmbH"),
    *("Rheinland Logistik GmbH", "Domblick Gastronomie GmbH", "Kanzlei Berger & Roth"),
)

UNIVERSITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Universität zu Köln", ("Informatik", "Rechtswissenschaft", "Medizin", "BWL", "Physik")),
    ("Technische Hochschule Köln", ("Elektrotechnik", "Bauingenieurwesen", "Soziale Arbeit")),
    ("Deutsche Sporthochschule Köln", ("Sportwissenschaft", "Sportmanagement")),
    ("Hochschule für Musik und Tanz Köln", ("Musik", "Tanz")),
    ("Rheinische Friedrich-Wilhelms-Universität Bonn", ("Geographie", "Agrarwissenschaften")),
)

DEGREES: tuple[str, ...] = (
    "Bachelor of Science",
    "Bachelor of Arts",
    "Master of Science",
    "Master of Arts",
)

ACTIVITIES: tuple[str, ...] = (
    *("Malerbetrieb", "Friseursalon", "Kiosk", "Café", "Kurierdienst", "IT-Dienstleistungen"),
    *("Textileinzelhandel", "Elektroinstallation", "Gebäudereinigung", "Hausmeisterservice"),
    *("Umzugsunternehmen", "Kfz-Werkstatt", "Blumenladen", "Fahrradwerkstatt"),
)

MAKES: tuple[str, ...] = (
    *("Volkswagen",) * 4,
    *("Mercedes-Benz", "BMW", "Opel", "Ford", "Audi", "Škoda", "Toyota", "Renault"),
    *("Hyundai", "Seat", "Fiat", "Kia", "Tesla"),
)

# Letter pairs the Zulassungsstellen refuse to hand out because of their Nazi connotations.
FORBIDDEN_PLATE_LETTERS = frozenset({"HJ", "KZ", "NS", "SA", "SS"})
